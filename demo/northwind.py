"""A deterministic two-year history of a fictional B2B SaaS company, Northwind Analytics, as
its three systems see it: HubSpot (marketing), Salesforce (sales) and Gainsight (customer
success). Pure: numpy and pandas in, DataFrames in the normalised source-record schema out.

The systems disagree the way real ones do: a few percent of marketing's leads never reached
the CRM, some outbound leads never reached marketing, marketing holds duplicates the CRM
merged, and stages, MQL dates, sources, owners and deal amounts differ on a few percent of
records. `DemoData.injected` counts each kind so tests and the reconciliation can check them.

Vectorised throughout: scale 50 (about a million leads) generates in seconds.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from pipeline.choices import AUTHORITY_FIELDS, ObjectType

WEEKS = 104
LEADS_PER_SCALE = 20_000
COMPANIES_PER_SCALE = 6_000

FIRST_NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Henry",
    "Isla",
    "Jack",
    "Kai",
    "Lena",
    "Mason",
    "Nora",
    "Oliver",
    "Priya",
    "Quinn",
    "Ravi",
    "Sofia",
    "Tom",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Aaron",
    "Bianca",
    "Carlos",
    "Dana",
    "Elif",
    "Farah",
    "Gabriel",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Laila",
    "Marco",
    "Nadia",
    "Omar",
    "Paula",
    "Rosa",
    "Samir",
    "Tara",
    "Ugo",
    "Vera",
    "Will",
    "Ximena",
    "Yusuf",
    "Zara",
    "Amir",
    "Beatriz",
    "Chen",
    "Diego",
    "Esther",
    "Fatima",
    "Giulia",
    "Hugo",
    "Ines",
    "Jonas",
    "Kamala",
    "Liam",
    "Maya",
    "Nikolai",
    "Olga",
    "Pedro",
    "Rania",
    "Stefan",
    "Tanvi",
    "Uriel",
    "Valentina",
    "Wojciech",
    "Yuki",
    "Zeynep",
    "José",
    "Zoë",
    "Åsa",
    "Søren",
    "Chloé",
    "Noé",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Lee",
    "Garcia",
    "Müller",
    "Rossi",
    "Kim",
    "Nguyen",
    "Patel",
    "Cohen",
    "Silva",
    "Novak",
    "Kowalski",
    "Jensen",
    "Dubois",
    "Tanaka",
    "Okafor",
    "Haddad",
    "Ivanova",
    "Larsen",
    "Moreau",
    "Costa",
    "Schmidt",
    "Fischer",
    "Weber",
    "Becker",
    "Ali",
    "Khan",
    "Singh",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Brown",
    "Wilson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Young",
    "Walker",
    "Hall",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Ramirez",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Flores",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Peterson",
    "Cooper",
    "Reed",
    "Bailey",
    "Bell",
    "Gomez",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Diaz",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "James",
    "Reyes",
    "Cruz",
    "Hughes",
    "Price",
    "Myers",
    "Long",
    "Foster",
    "Sanders",
    "Ross",
    "Morales",
    "Powell",
    "Sullivan",
    "Russell",
    "Ortiz",
    "Jenkins",
    "Gutierrez",
    "Perry",
    "NA",
]
PREFIXES = [
    "Bright",
    "Blue",
    "Cloud",
    "Data",
    "Deep",
    "Edge",
    "Fast",
    "First",
    "Flex",
    "Great",
    "Green",
    "High",
    "Iron",
    "Key",
    "Light",
    "Lumen",
    "Meta",
    "Next",
    "North",
    "Nova",
    "Open",
    "Peak",
    "Pine",
    "Prime",
    "Quant",
    "Rapid",
    "Red",
    "Sharp",
    "Silver",
    "Smart",
    "Snow",
    "Solid",
    "Star",
    "Stone",
    "Sun",
    "Swift",
    "True",
    "Up",
    "Vast",
    "Vector",
    "Wave",
    "West",
    "Wild",
    "Zen",
    "Alpha",
    "Apex",
    "Atlas",
    "Beacon",
    "Cedar",
    "Clear",
    "Core",
    "Delta",
]
SUFFIXES = [
    "wave",
    "ly",
    "soft",
    "works",
    "labs",
    "stack",
    "forge",
    "grid",
    "loop",
    "mind",
    "path",
    "point",
    "scale",
    "shift",
    "sight",
    "signal",
    "span",
    "sync",
    "tech",
    "ware",
    "wise",
    "bit",
    "base",
    "bridge",
    "cast",
    "craft",
    "flow",
    "hub",
    "line",
    "logic",
    "metrics",
    "net",
    "ops",
    "pulse",
    "rise",
    "root",
    "scope",
]
TLDS = ["com", "io", "co", "ai", "net"]
INDUSTRIES = [
    "Software",
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Media",
    "Education",
    "Logistics",
    "Professional services",
    "Energy",
]
PERSONAL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com"]

# Channel, share of leads, chance to become an MQL. Outbound is sales-sourced and skips MQL.
CHANNELS = [
    "Paid Search",
    "Organic",
    "Webinar",
    "Content",
    "Event",
    "Referral",
    "Partner",
    "Outbound",
]
CHANNEL_SHARE = np.array([0.21, 0.19, 0.12, 0.12, 0.08, 0.06, 0.05, 0.17])
CHANNEL_MQL = np.array([0.30, 0.33, 0.45, 0.25, 0.40, 0.60, 0.50, 0.0])
OUTBOUND = CHANNELS.index("Outbound")

SALES_REPS = [
    "Alex Morgan",
    "Bea Lindqvist",
    "Carlos Vega",
    "Dana Whitfield",
    "Eli Okoro",
    "Fiona Brandt",
    "Gus Tamura",
    "Hanna Petrov",
    "Ian Mercer",
    "Jade Osei",
]
CSMS = ["Kim Alvarez", "Leo Fontaine", "Mia Sorensen", "Noah Adeyemi"]

# Who sells where, as the owners file ops import says it: team → (manager, office, its people).
TEAMS = {
    "Enterprise": ("Rosa Quinn", "Boston", SALES_REPS[0:4]),
    "Mid-market": ("Sam Ortiz", "London", SALES_REPS[4:7]),
    "SMB": ("Tara Nguyen", "Singapore", SALES_REPS[7:10]),
    "Customer success": ("Uma Patel", "Boston", CSMS),
}
# Regions ops define, and how the demo's companies spread over their countries.
REGIONS = {
    "North America": ("United States", "Canada"),
    "EMEA": ("United Kingdom", "Germany", "France", "Netherlands", "Spain"),
    "APAC": ("Australia", "Japan", "Singapore"),
    "LATAM": ("Brazil", "Mexico"),
}
COUNTRY_SHARE = {
    "United States": 0.38, "Canada": 0.05, "United Kingdom": 0.12, "Germany": 0.09,
    "France": 0.07, "Netherlands": 0.04, "Spain": 0.03, "Australia": 0.06, "Japan": 0.04,
    "Singapore": 0.04, "Brazil": 0.05, "Mexico": 0.03,
}  # fmt: skip
PRODUCTS = ["Platform", "Analytics add-on", "Services"]
PRODUCT_SHARE = np.array([0.6, 0.25, 0.15])

LEAD_STAGES = np.array(["new", "mql", "sal", "sql", "opportunity", "customer", "disqualified"])
DEAL_STAGES = np.array(["qualification", "discovery", "proposal", "negotiation"])

# Systems of the demo: slug → (name, role, vendor).
SYSTEMS = {
    "hubspot": ("HubSpot", "marketing", "hubspot"),
    "salesforce": ("Salesforce", "sales", "salesforce"),
    "gainsight": ("Gainsight", "customer_success", "gainsight"),
}


@dataclass
class DemoData:
    """The generated frames, keyed by (system slug, object type), plus what was injected."""

    frames: dict[tuple[str, str], pd.DataFrame]
    deal_history: (
        pd.DataFrame
    )  # CRM opportunity history: external_id, from_stage, to_stage, changed_at, amount
    injected: dict[str, int] = field(default_factory=dict)
    as_of: date | None = None
    # Monthly exchange rates into USD for the deal currencies other than USD: currency, date, rate.
    exchange_rates: pd.DataFrame | None = None


def generate(*, scale: float = 1, seed: int = 7, today: date) -> DemoData:
    """Generate the demo for `scale` (1 ≈ 20,000 leads) up to the start of `today`,
    deterministically: the same arguments give the same frames."""
    rng = np.random.default_rng(seed)
    # The history stops at the start of `today`, so nothing in it lies in the future.
    end = datetime.combine(today, time(0, 0), tzinfo=UTC) - timedelta(seconds=1)
    start = datetime.combine(today - timedelta(weeks=WEEKS), time(0, 0), tzinfo=UTC)

    companies = _companies(rng, max(50, int(COMPANIES_PER_SCALE * scale)))
    leads = _leads(rng, max(200, int(LEADS_PER_SCALE * scale)), companies, start, end)
    deals, deal_history, arr = _deals(rng, leads, companies, end, scale)
    # A generator of its own, so the rest of the demo draws what it drew before currencies.
    deals, deal_history = _deal_currencies(np.random.default_rng(seed + 4217), deals, deal_history)
    _dimensions(np.random.default_rng(seed + 6101), companies, leads, deals)
    # A lead whose deal was won is a customer.
    won_leads = deals.loc[deals["stage"].eq("closed_won") & deals["lead_idx"].ge(0), "lead_idx"]
    leads.loc[won_leads.to_numpy(), "stage"] = "customer"

    injected: dict[str, int] = {}
    frames = {}
    frames[("salesforce", "lead")], frames[("hubspot", "lead")] = _lead_views(
        rng, leads, deals, injected
    )
    frames[("salesforce", "deal")], frames[("hubspot", "deal")] = _deal_views(
        rng, deals, companies, injected
    )
    (
        frames[("salesforce", "account")],
        frames[("hubspot", "account")],
        frames[("gainsight", "account")],
    ) = _account_views(rng, companies, leads, deals, arr, today)
    frames[("gainsight", "arr")] = _arr_view(arr, companies)
    return DemoData(
        frames=frames,
        deal_history=deal_history,
        injected=injected,
        as_of=today,
        exchange_rates=exchange_rates(start.date() - timedelta(days=90), today),
    )


# --- Dimensions -----------------------------------------------------------------------------


def _segment(employees: np.ndarray) -> np.ndarray:
    return np.select([employees >= 1000, employees >= 200], ["Enterprise", "Mid-market"], "SMB")


def _dimensions(rng, companies: pd.DataFrame, leads: pd.DataFrame, deals: pd.DataFrame) -> None:
    """Each company's country and segment (by size), each lead's country (its company's, or
    anywhere for a personal address) and each deal's product. A generator of their own, so
    the rest of the demo draws what it drew before they existed."""
    countries = np.array(list(COUNTRY_SHARE))
    share = np.array(list(COUNTRY_SHARE.values()))
    companies["country"] = countries[rng.choice(len(countries), len(companies), p=share)]
    companies["segment"] = _segment(companies["employees"].to_numpy())
    company = leads["company_idx"].to_numpy()
    anywhere = countries[rng.choice(len(countries), len(leads), p=share)]
    leads["country"] = np.where(
        company >= 0, companies["country"].to_numpy()[np.maximum(company, 0)], anywhere
    )
    deals["product"] = np.array(PRODUCTS)[rng.choice(len(PRODUCTS), len(deals), p=PRODUCT_SHARE)]


# --- Currencies -----------------------------------------------------------------------------

# Deal currencies other than the company's (USD): share of deals, and roughly what one USD
# buys, used to write a deal's amount in its own currency.
DEAL_CURRENCIES = {"EUR": (0.15, 0.92), "GBP": (0.10, 0.79)}


def _deal_currencies(rng, deals: pd.DataFrame, history: pd.DataFrame):
    """Put a minority of deals in EUR and GBP, with their amounts (and their stage history's)
    in that currency. ARR stays in USD: customer success books it in the company currency."""
    deals = deals.copy()
    draw = rng.random(len(deals))
    deals["currency"] = "USD"
    low = 0.0
    factor = np.ones(len(deals))
    for code, (share, per_usd) in DEAL_CURRENCIES.items():
        chosen = (draw >= low) & (draw < low + share)
        deals.loc[chosen, "currency"] = code
        factor[chosen] = per_usd
        low += share
    deals["amount"] = np.round(deals["amount"].to_numpy() * factor, -2)
    by_deal = pd.Series(factor, index=deals["external_id"].to_numpy())
    history = history.copy()
    history["amount"] = np.round(
        history["amount"].to_numpy() * by_deal.reindex(history["external_id"]).to_numpy(), -2
    )
    return deals, history


def exchange_rates(start: date, end: date) -> pd.DataFrame:
    """A rate for each demo currency on the first of every month from `start`'s month to
    `end`'s: a smooth, deterministic drift around today's level."""
    first = date(start.year, start.month, 1)
    months = pd.date_range(first, end, freq="MS")
    k = np.arange(len(months))
    rows = []
    for i, (code, (_share, per_usd)) in enumerate(DEAL_CURRENCIES.items()):
        level = (1 / per_usd) * (1 + 0.03 * np.sin(k / (4 + i)) + 0.01 * np.cos(k / 2.5))
        rows.append(
            pd.DataFrame({"currency": code, "date": months.date, "rate": np.round(level, 4)})
        )
    return pd.concat(rows, ignore_index=True)


# --- Companies ------------------------------------------------------------------------------


def _companies(rng: np.random.Generator, n: int) -> pd.DataFrame:
    idx = rng.permutation(n)
    p, s, t = len(PREFIXES), len(SUFFIXES), len(TLDS)
    prefix = np.array(PREFIXES)[idx % p]
    suffix = np.array(SUFFIXES)[(idx // p) % s]
    tld = np.array(TLDS)[(idx // (p * s)) % t]
    round_ = idx // (p * s * t)
    base = pd.Series(prefix) + pd.Series(suffix)
    name = base.where(round_ == 0, base + " " + pd.Series(round_ + 1).astype(str))
    domain = (
        base.str.lower().where(round_ == 0, base.str.lower() + pd.Series(round_ + 1).astype(str))
        + "."
        + pd.Series(tld)
    )
    employees = np.clip(rng.lognormal(4.6, 1.3, n), 5, 50_000).astype(int)
    return pd.DataFrame(
        {
            "external_id": [f"001{i:012d}" for i in range(n)],
            "name": name,
            "domain": domain,
            "industry": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)],
            "employees": employees,
            # Bigger companies send more leads.
            "weight": np.sqrt(employees),
        }
    )


# --- Leads ----------------------------------------------------------------------------------


def _ascii(name: str) -> str:
    name = name.replace("ø", "o").replace("Ø", "O")
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _timestamps(rng: np.random.Generator, n: int, start: datetime, end: datetime) -> np.ndarray:
    """Lead creation times: growing volume, a December dip, weekdays busier than weekends."""
    days = (end.date() - start.date()).days + 1
    day_index = np.arange(days)
    dates = pd.date_range(start.date(), periods=days, freq="D")
    growth = 1 + 0.6 * day_index / days
    weekday = np.array([1.2, 1.25, 1.15, 1.1, 0.9, 0.25, 0.2])[dates.day_of_week]
    december = np.where((dates.month == 12) & (dates.day > 18), 0.45, 1.0)
    weights = growth * weekday * december
    chosen = rng.choice(days, size=n, p=weights / weights.sum())
    seconds = np.clip(rng.normal(14.5 * 3600, 3.2 * 3600, n), 0, 86_399).astype("int64")
    base = np.datetime64(start.date(), "s")
    return np.sort(base + chosen.astype("timedelta64[D]") + seconds.astype("timedelta64[s]"))


def _hours(rng: np.random.Generator, n: int, median_hours: float, spread: float) -> np.ndarray:
    return (rng.lognormal(np.log(median_hours), spread, n) * 3600).astype("timedelta64[s]")


def _leads(rng, n, companies, start, end) -> pd.DataFrame:
    created = _timestamps(rng, n, start, end)
    end64 = np.datetime64(end.replace(tzinfo=None), "s")
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE / CHANNEL_SHARE.sum())
    company = rng.choice(len(companies), size=n, p=(w := companies["weight"].to_numpy()) / w.sum())
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    personal = rng.random(n) < 0.05
    domain = np.where(
        personal,
        np.array(PERSONAL_DOMAINS)[rng.integers(0, len(PERSONAL_DOMAINS), n)],
        companies["domain"].to_numpy()[company],
    )
    # Addresses are ASCII even where names are not (José → jose); a sequence number keeps them
    # unique however many Jane Smiths a company has.
    local = (
        pd.Series(first).map(_ascii).str.lower()
        + "."
        + pd.Series(last).map(_ascii).str.lower()
        + pd.Series(np.arange(n)).astype(str)
    )
    email = (local + "@" + pd.Series(domain)).to_numpy()

    progress = (created - np.datetime64(start.replace(tzinfo=None), "s")) / (
        end64 - np.datetime64(start.replace(tzinfo=None), "s")
    )
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")

    is_mql = rng.random(n) < CHANNEL_MQL[channel]
    mql_at = np.where(is_mql, created + _hours(rng, n, 30, 1.1), nat)
    # Speed to lead improves over the two years, from about 9 hours to about 2.
    touch_median = 9 - 7 * progress
    first_touch = mql_at + (rng.lognormal(0, 0.9, n) * touch_median * 3600).astype("timedelta64[s]")
    outbound = channel == OUTBOUND
    first_touch = np.where(outbound, created + _hours(rng, n, 1, 0.5), first_touch)

    is_sal = (is_mql & (rng.random(n) < 0.78)) | (outbound & (rng.random(n) < 0.55))
    sal_from = np.where(outbound, created, mql_at)
    sal_at = np.where(is_sal, sal_from + _hours(rng, n, 40, 0.8), nat)
    is_sql = is_sal & (rng.random(n) < np.where(outbound, 0.45, 0.55))
    sql_at = np.where(is_sql, sal_at + _hours(rng, n, 110, 0.7), nat)
    is_converted = is_sql & (rng.random(n) < 0.72)
    converted_at = np.where(is_converted, sql_at + _hours(rng, n, 50, 0.9), nat)
    # Leads that went nowhere are disqualified a few weeks later.
    is_dq = ~is_converted & (rng.random(n) < np.where(is_sal, 0.6, 0.25))
    last_step = np.where(
        ~np.isnat(sql_at),
        sql_at,
        np.where(~np.isnat(sal_at), sal_at, np.where(~np.isnat(mql_at), mql_at, created)),
    )
    disqualified_at = np.where(is_dq, last_step + _hours(rng, n, 24 * 20, 0.6), nat)

    # Nothing happens after the end of the history.
    for arr in (mql_at, first_touch, sal_at, sql_at, converted_at, disqualified_at):
        arr[arr > end64] = np.datetime64("NaT")
    stage = np.full(n, "new", dtype=object)
    stage[~np.isnat(mql_at)] = "mql"
    stage[~np.isnat(sal_at)] = "sal"
    stage[~np.isnat(sql_at)] = "sql"
    stage[~np.isnat(converted_at)] = "opportunity"
    stage[~np.isnat(disqualified_at)] = "disqualified"

    rep = rng.integers(0, len(SALES_REPS), n)
    return pd.DataFrame(
        {
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": np.where(personal, "", companies["name"].to_numpy()[company]),
            "company_idx": np.where(personal, -1, company),
            "source": np.array(CHANNELS)[channel],
            "channel": channel,
            "owner": np.array(SALES_REPS)[rep],
            "stage": stage,
            "created_at": created,
            "mql_at": mql_at,
            "sal_at": sal_at,
            "sql_at": sql_at,
            "converted_at": converted_at,
            "disqualified_at": disqualified_at,
            "first_touch_at": first_touch,
        }
    )


# --- Deals and ARR --------------------------------------------------------------------------


def _deals(rng, leads, companies, end, scale):
    end64 = np.datetime64(end.replace(tzinfo=None), "s")
    conv = leads.index[~leads["converted_at"].isna()].to_numpy()
    n_new = len(conv)
    lead_company = leads["company_idx"].to_numpy()[conv]
    # A converted lead with a personal email still buys for some company.
    lead_company = np.where(lead_company < 0, rng.integers(0, len(companies), n_new), lead_company)
    employees = companies["employees"].to_numpy()[lead_company]
    amount = np.round(rng.lognormal(np.log(9_000), 0.55, n_new) * (employees**0.22), -2)
    created = leads["converted_at"].to_numpy()[conv].astype("datetime64[s]")
    new = pd.DataFrame(
        {
            "lead_idx": conv,
            "company_idx": lead_company,
            "created_at": created,
            "amount": amount,
            "deal_type": "new",
            "source": np.where(leads["channel"].to_numpy()[conv] == OUTBOUND, "sales", "marketing"),
            "owner": leads["owner"].to_numpy()[conv],
            "win_p": 0.22,
        }
    )
    new = _close(rng, new, end64, median_days=48)

    # Customers: won new-business deals. One customer per company, at its first win.
    won = new[new["stage"].eq("closed_won")].sort_values("close_at")
    won = won.drop_duplicates("company_idx")
    arr_rows = [
        pd.DataFrame(
            {
                "company_idx": won["company_idx"],
                "kind": "new",
                "amount": won["amount"],
                "effective": won["close_at"],
            }
        )
    ]
    later_deals = []
    # One row per customer, indexed by company, so every mask below lines up by label.
    cust = pd.DataFrame(
        {
            "arr": won["amount"].astype(float).to_numpy(),
            "start": won["close_at"].to_numpy(),
            "churned": False,
        },
        index=won["company_idx"].to_numpy(),
    )
    reps = np.array(SALES_REPS)
    for year in (1, 2):
        anniversary = cust["start"] + np.timedelta64(365 * year, "D")
        # Expansion deals in the middle of the year.
        exp_at = (
            cust["start"]
            + np.timedelta64(365 * year - 180, "D")
            + pd.to_timedelta(rng.integers(-60, 60, len(cust)), unit="D")
        )
        expanding = ~cust["churned"] & (rng.random(len(cust)) < 0.35) & (exp_at <= end64)
        ids = cust.index[expanding.to_numpy()]
        if len(ids):
            exp = pd.DataFrame(
                {
                    "lead_idx": -1,
                    "company_idx": ids,
                    "created_at": exp_at[ids].to_numpy(),
                    "amount": np.round(
                        cust.loc[ids, "arr"].to_numpy() * rng.uniform(0.15, 0.5, len(ids)), -2
                    ),
                    "deal_type": "expansion",
                    "source": "sales",
                    "owner": reps[rng.integers(0, len(reps), len(ids))],
                    "win_p": 0.6,
                }
            )
            exp = _close(rng, exp, end64, median_days=30)
            later_deals.append(exp)
            w = exp[exp["stage"].eq("closed_won")]
            arr_rows.append(
                pd.DataFrame(
                    {
                        "company_idx": w["company_idx"],
                        "kind": "expansion",
                        "amount": w["amount"],
                        "effective": w["close_at"],
                    }
                )
            )
            gained = w.groupby("company_idx")["amount"].sum()
            cust.loc[gained.index, "arr"] += gained.to_numpy()
        # Renewal deals open 60 days before each anniversary that has passed.
        renewing = ~cust["churned"] & (anniversary <= end64)
        ids = cust.index[renewing.to_numpy()]
        if not len(ids):
            continue
        draw = rng.random(len(ids))
        ren = pd.DataFrame(
            {
                "lead_idx": -1,
                "company_idx": ids,
                "created_at": (anniversary[ids] - np.timedelta64(60, "D")).to_numpy(),
                "amount": np.round(cust.loc[ids, "arr"].to_numpy(), -2),
                "deal_type": "renewal",
                "source": "sales",
                "owner": reps[rng.integers(0, len(reps), len(ids))],
                "win_p": 1.0,
            }
        )
        ren["stage"] = np.where(draw < 0.11, "closed_lost", "closed_won")
        ren["close_at"] = anniversary[ids].to_numpy()
        later_deals.append(ren)
        churn_ids = ids[draw < 0.11]
        con_ids = ids[(draw >= 0.11) & (draw < 0.19)]
        arr_rows.append(
            pd.DataFrame(
                {
                    "company_idx": churn_ids,
                    "kind": "churn",
                    "amount": cust.loc[churn_ids, "arr"].to_numpy(),
                    "effective": anniversary[churn_ids].to_numpy(),
                }
            )
        )
        cut = np.round(
            cust.loc[con_ids, "arr"].to_numpy() * rng.uniform(0.1, 0.35, len(con_ids)), -2
        )
        arr_rows.append(
            pd.DataFrame(
                {
                    "company_idx": con_ids,
                    "kind": "contraction",
                    "amount": cut,
                    "effective": anniversary[con_ids].to_numpy(),
                }
            )
        )
        cust.loc[con_ids, "arr"] -= cut
        cust.loc[churn_ids, "churned"] = True

    deals = pd.concat([new, *later_deals], ignore_index=True)
    deals["external_id"] = [f"006{i:012d}" for i in range(len(deals))]
    company_names = companies["name"].to_numpy()[deals["company_idx"].to_numpy()]
    label = deals["deal_type"].map(
        {"new": "New business", "expansion": "Expansion", "renewal": "Renewal"}
    )
    deals["name"] = company_names + " — " + label
    deals["close_date"] = deals["close_at"].to_numpy().astype("datetime64[D]")
    history = _deal_history(rng, deals)

    arr = pd.concat(arr_rows, ignore_index=True)
    arr = arr[arr["amount"] > 0].copy()
    arr["effective_date"] = arr["effective"].to_numpy().astype("datetime64[D]")
    arr = arr.sort_values(["effective_date", "company_idx"], kind="stable").reset_index(drop=True)
    arr["external_id"] = [f"ARR-{i:08d}" for i in range(len(arr))]
    return deals, history, arr


def _close(rng, deals: pd.DataFrame, end64, median_days: float) -> pd.DataFrame:
    """Decide each deal's outcome and close moment; deals whose close lies past the end are open
    at a stage that matches how far along they are."""
    n = len(deals)
    cycle = np.maximum(rng.lognormal(np.log(median_days), 0.5, n), 7)
    close_at = deals["created_at"].to_numpy() + (cycle * 86400).astype("timedelta64[s]")
    won = rng.random(n) < deals["win_p"].to_numpy()
    # Lost deals die earlier in their cycle than won ones close.
    close_at = np.where(
        won,
        close_at,
        deals["created_at"].to_numpy()
        + (cycle * rng.uniform(0.3, 1.0, n) * 86400).astype("timedelta64[s]"),
    )
    open_ = close_at > end64
    elapsed = (end64 - deals["created_at"].to_numpy()) / np.maximum(
        close_at - deals["created_at"].to_numpy(), np.timedelta64(1, "s")
    )
    step = np.clip((elapsed * 4).astype(int), 0, 3)
    stage = np.where(open_, DEAL_STAGES[step], np.where(won, "closed_won", "closed_lost"))
    out = deals.copy()
    out["stage"] = stage
    out["close_at"] = close_at
    return out


def _deal_history(rng, deals: pd.DataFrame) -> pd.DataFrame:
    """Opportunity stage history as the CRM records it: each stage entered, with the amount."""
    created = deals["created_at"].to_numpy()
    close = deals["close_at"].to_numpy()
    span = close - created
    frames = []
    stage = deals["stage"].to_numpy()
    closed = np.isin(stage, ["closed_won", "closed_lost"])
    reached = np.where(
        closed,
        np.where(stage == "closed_won", 4, rng.integers(1, 5, len(deals))),
        np.searchsorted(DEAL_STAGES, stage) + 1,
    )
    order = {s: i for i, s in enumerate(DEAL_STAGES)}
    open_reached = np.array([order.get(s, 3) + 1 for s in stage])
    reached = np.where(closed, reached, open_reached)
    for i, name in enumerate(DEAL_STAGES):
        mask = reached > i
        frames.append(
            pd.DataFrame(
                {
                    "external_id": deals["external_id"].to_numpy()[mask],
                    "from_stage": "" if i == 0 else DEAL_STAGES[i - 1],
                    "to_stage": name,
                    "changed_at": created[mask] + span[mask] * (i / 4),
                    "amount": deals["amount"].to_numpy()[mask],
                }
            )
        )
    frames.append(
        pd.DataFrame(
            {
                "external_id": deals["external_id"].to_numpy()[closed],
                "from_stage": DEAL_STAGES[np.clip(reached[closed] - 1, 0, 3)],
                "to_stage": stage[closed],
                "changed_at": close[closed],
                "amount": deals["amount"].to_numpy()[closed],
            }
        )
    )
    history = pd.concat(frames, ignore_index=True)
    history["changed_at"] = history["changed_at"].astype("datetime64[s]").dt.floor("min")
    return history


# --- What each system holds -----------------------------------------------------------------


def _pick(rng, n: int, share: float, among: np.ndarray | None = None) -> np.ndarray:
    """A boolean mask choosing about `share` of the rows (of those in `among`)."""
    mask = rng.random(n) < share
    return mask if among is None else mask & among


def _lead_views(rng, leads: pd.DataFrame, deals: pd.DataFrame, injected: dict[str, int]):
    n = len(leads)
    outbound = leads["channel"].to_numpy() == OUTBOUND
    # 3% of marketing's leads never reached the CRM (sync errors, filtered junk); 55% of
    # outbound leads were created by sales and never synced back to marketing.
    not_in_crm = _pick(rng, n, 0.03, ~outbound)
    not_in_mkt = _pick(rng, n, 0.55, outbound)
    base = leads.copy()
    base["external_id"] = ""
    tz = {
        c: "UTC"
        for c in (
            "created_at",
            "mql_at",
            "sal_at",
            "sql_at",
            "converted_at",
            "disqualified_at",
            "first_touch_at",
        )
    }

    crm = base[~not_in_crm].copy()
    crm["external_id"] = [f"00Q{i:012d}" for i in crm.index]
    # The CRM's lead record is created when the sync lands, a minute or two after marketing's.
    crm["created_at"] = crm["created_at"] + pd.to_timedelta(
        np.where(outbound[~not_in_crm], 0, rng.integers(30, 240, len(crm))), unit="s"
    )
    # The CRM's converted lead points at the opportunity the conversion created.
    crm["converted_deal_external_id"] = ""
    converted = deals[deals["lead_idx"] >= 0]
    converted = converted[~not_in_crm[converted["lead_idx"].to_numpy()]]
    crm.loc[converted["lead_idx"].to_numpy(), "converted_deal_external_id"] = converted[
        "external_id"
    ].to_numpy()

    mkt = base[~not_in_mkt].copy()
    mkt["external_id"] = [str(10_000_000 + i) for i in mkt.index]
    both = ~not_in_crm & ~not_in_mkt
    in_both = mkt.index[both[mkt.index]]
    m = len(in_both)

    def choose(share: float) -> pd.Index:
        return in_both[rng.random(m) < share]

    # Marketing's lifecycle stage lags the CRM: still MQL where sales already made it SQL.
    advanced = in_both[
        crm.loc[in_both, "stage"].isin(["sql", "opportunity", "customer"]).to_numpy()
    ]
    lag = advanced[rng.random(len(advanced)) < 0.06]
    mkt.loc[lag, "stage"] = "mql"
    mkt.loc[lag, ["sql_at", "converted_at"]] = pd.NaT
    # MQL dates that differ by one to nine days: some land in another week.
    shifted = choose(0.025)
    shifted = shifted[~crm.loc[shifted, "mql_at"].isna().to_numpy()]
    moved = crm.loc[shifted, "mql_at"] + pd.to_timedelta(
        rng.choice([-1, 1], len(shifted)) * rng.integers(1, 10, len(shifted)), unit="D"
    )
    # Never into the future, never before the lead existed.
    moved = moved.clip(lower=crm.loc[shifted, "created_at"], upper=leads["created_at"].max())
    mkt.loc[shifted, "mql_at"] = moved
    # Source attribution: marketing credits its campaign where sales logged outbound or event.
    resourced = choose(0.03)
    alt = np.array(["Webinar", "Content", "Paid Search", "Event"])[
        rng.integers(0, 4, len(resourced))
    ]
    same = alt == mkt.loc[resourced, "source"].to_numpy()
    alt[same] = "Organic"
    mkt.loc[resourced, "source"] = alt
    # Owners reassigned in the CRM after the last sync.
    reowned = choose(0.01)
    rep_index = {name: i for i, name in enumerate(SALES_REPS)}
    previous = mkt.loc[reowned, "owner"].map(rep_index).to_numpy()
    mkt.loc[reowned, "owner"] = np.array(SALES_REPS)[(previous + 1) % len(SALES_REPS)]
    # Duplicates marketing holds and the CRM merged: a second contact, same person.
    dup_from = mkt.index[rng.random(len(mkt)) < 0.01]
    dups = mkt.loc[dup_from].copy()
    dups["external_id"] = [str(90_000_000 + i) for i in dup_from]
    # Same address, typed differently: it normalises to the same key.
    dups["email"] = dups["email"].str.upper()
    # The second contact came later (a new form fill), though never after the history ends.
    later = dups["created_at"] + pd.to_timedelta(rng.integers(2, 60, len(dups)), unit="D")
    dups["created_at"] = later.where(later <= leads["created_at"].max(), dups["created_at"])
    mkt = pd.concat([mkt, dups])
    mkt["converted_deal_external_id"] = ""
    injected.update(
        lead_missing_in_sales=int(not_in_crm.sum()),
        lead_missing_in_marketing=int(not_in_mkt.sum()),
        lead_stage_mismatch=len(lag),
        lead_mql_date_mismatch=len(shifted),
        lead_source_mismatch=len(resourced),
        lead_owner_mismatch=len(reowned),
        lead_duplicate_in_marketing=len(dups),
    )
    return _lead_frame(crm, tz), _lead_frame(mkt, tz)


def _lead_frame(df: pd.DataFrame, tz) -> pd.DataFrame:
    out = df[
        ["external_id", "email", *AUTHORITY_FIELDS[ObjectType.LEAD], "converted_deal_external_id"]
    ].copy()
    for column in tz:
        # Minute precision: HubSpot's exports carry no seconds, so neither does the demo.
        out[column] = pd.to_datetime(out[column]).dt.floor("min").dt.tz_localize("UTC")
    out["account_external_id"] = ""
    return out.reset_index(drop=True)


def _deal_views(rng, deals: pd.DataFrame, companies: pd.DataFrame, injected):
    cols = [
        "external_id",
        "name",
        "stage",
        "amount",
        "created_at",
        "close_date",
        "source",
        "deal_type",
        "owner",
        "currency",
        "product",
    ]
    crm = deals[cols].copy()
    crm["account_external_id"] = companies["external_id"].to_numpy()[deals["company_idx"]]
    crm["lead_external_id"] = ""
    crm["crm_id"] = ""
    crm["created_at"] = pd.to_datetime(crm["created_at"]).dt.floor("min").dt.tz_localize("UTC")
    crm["close_date"] = pd.to_datetime(crm["close_date"]).dt.date
    # Marketing sees the deals it sourced, synced from the CRM, keyed by the CRM id.
    mkt_mask = deals["source"].eq("marketing").to_numpy()
    missing = mkt_mask & (rng.random(len(deals)) < 0.02)
    mkt = crm[mkt_mask & ~missing].copy()
    mkt["crm_id"] = mkt["external_id"]
    mkt["external_id"] = [str(50_000_000 + i) for i in mkt.index]
    mkt["account_external_id"] = ""
    k = len(mkt)
    amount_off = rng.random(k) < 0.02
    mkt.loc[amount_off, "amount"] = np.round(
        mkt.loc[amount_off, "amount"] * rng.uniform(0.6, 1.4, amount_off.sum()), -2
    )
    stage_off = (rng.random(k) < 0.06) & mkt["stage"].eq("closed_won").to_numpy()
    mkt.loc[stage_off, "stage"] = "negotiation"
    close_off = (rng.random(k) < 0.015) & ~mkt["close_date"].isna().to_numpy()
    mkt.loc[close_off, "close_date"] = (
        pd.to_datetime(mkt.loc[close_off, "close_date"])
        + pd.to_timedelta(rng.integers(3, 20, close_off.sum()), unit="D")
    ).dt.date
    injected.update(
        deal_missing_in_marketing=int(missing.sum()),
        deal_amount_mismatch=int(amount_off.sum()),
        deal_stage_mismatch=int(stage_off.sum()),
        deal_close_date_mismatch=int(close_off.sum()),
    )
    return crm.reset_index(drop=True), mkt.reset_index(drop=True)


def _account_views(rng, companies, leads, deals, arr, today: date):
    used = np.union1d(
        leads["company_idx"][leads["company_idx"] >= 0].unique(), deals["company_idx"].unique()
    )
    c = companies.iloc[used]
    crm = pd.DataFrame(
        {
            "external_id": c["external_id"].to_numpy(),
            "name": c["name"].to_numpy(),
            # Salesforce keeps a website, often with a scheme and www.
            "domain": np.where(rng.random(len(c)) < 0.5, "https://www." + c["domain"], c["domain"]),
            "industry": c["industry"].to_numpy(),
            "employees": c["employees"].to_numpy(),
            "owner": np.array(SALES_REPS)[rng.integers(0, len(SALES_REPS), len(c))],
            "country": c["country"].to_numpy(),
            "segment": c["segment"].to_numpy(),
        }
    )
    mkt_used = np.unique(leads["company_idx"][leads["company_idx"] >= 0])
    h = companies.iloc[mkt_used]
    mkt = pd.DataFrame(
        {
            "external_id": [str(70_000_000 + i) for i in mkt_used],
            "name": h["name"].to_numpy(),
            "domain": h["domain"].to_numpy(),
            "industry": h["industry"].to_numpy(),
            "employees": h["employees"].to_numpy(),
            "owner": "",
            "country": h["country"].to_numpy(),
        }
    )
    customers = np.unique(arr["company_idx"])
    g = companies.iloc[customers]
    churned = set(arr.loc[arr["kind"].eq("churn"), "company_idx"])
    since = arr[arr["kind"].eq("new")].groupby("company_idx")["effective_date"].min()
    start = pd.to_datetime(since.reindex(customers).to_numpy())
    years = np.maximum(np.ceil((pd.Timestamp(today) - start).days / 365.0), 1)
    renewal = (start + pd.to_timedelta(365 * years, unit="D")).date
    health = np.where(
        np.isin(customers, list(churned)),
        "at_risk",
        np.array(["good", "good", "good", "neutral", "at_risk"])[
            rng.integers(0, 5, len(customers))
        ],
    )
    cs = pd.DataFrame(
        {
            "external_id": [f"GS-{i:06d}" for i in customers],
            "name": g["name"].to_numpy(),
            "domain": g["domain"].to_numpy(),
            "industry": "",
            "employees": pd.array([None] * len(g), dtype="Int64"),
            "owner": np.array(CSMS)[rng.integers(0, len(CSMS), len(g))],
            "health": health,
            "renewal_date": renewal,
        }
    )
    for frame in (crm, mkt):
        frame["health"] = ""
        frame["renewal_date"] = None
    return crm, mkt, cs


def _arr_view(arr: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "external_id": arr["external_id"].to_numpy(),
            "account_external_id": [f"GS-{i:06d}" for i in arr["company_idx"]],
            "kind": arr["kind"].to_numpy(),
            "amount": arr["amount"].to_numpy(),
            "effective_date": pd.to_datetime(arr["effective_date"]).dt.date,
        }
    )


# --- Exports: each system's frames as the CSV file that system writes --------------------------

_SF_STATUS = {"new": "Open - Not Contacted", "mql": "Marketing Qualified",
              "sal": "Working - Contacted", "sql": "Sales Qualified",
              "opportunity": "Closed - Converted", "customer": "Customer",
              "disqualified": "Closed - Not Converted"}  # fmt: skip
_HS_LIFECYCLE = {"new": "Lead", "mql": "Marketing Qualified Lead", "sal": "Sales Accepted Lead",
                 "sql": "Sales Qualified Lead", "opportunity": "Opportunity",
                 "customer": "Customer", "disqualified": "Disqualified"}  # fmt: skip
_SF_STAGE = {"qualification": "Qualification", "discovery": "Needs Analysis",
             "proposal": "Proposal/Price Quote", "negotiation": "Negotiation/Review",
             "closed_won": "Closed Won", "closed_lost": "Closed Lost"}  # fmt: skip
_HS_STAGE = {"qualification": "Qualified to Buy", "discovery": "Presentation Scheduled",
             "proposal": "Decision Maker Bought-In", "negotiation": "Contract Sent",
             "closed_won": "Closed Won", "closed_lost": "Closed Lost"}  # fmt: skip
_SF_TYPE = {"new": "New Customer", "expansion": "Existing Customer - Upgrade",
            "renewal": "Existing Customer - Replacement"}  # fmt: skip
_HS_TYPE = {"new": "New Business", "expansion": "Existing Business", "renewal": "Renewal"}
_GS_HEALTH = {"good": "Good", "neutral": "Neutral", "at_risk": "At Risk", "": ""}
_GS_KIND = {"new": "New", "expansion": "Expansion", "contraction": "Contraction",
            "churn": "Churn"}  # fmt: skip

# Mappings of the customer-success exports, saved as presets by the demo (no vendor preset).
GAINSIGHT_PRESETS = {
    "Gainsight — companies": {
        "object": "account", "fields": {
            "external_id": "GSID", "name": "Name", "domain": "Company Domain",
            "owner": "CSM", "renewal_date": "Renewal Date",
            "health": {"column": "Health Score", "values": {
                "Good": "good", "Neutral": "neutral", "At Risk": "at_risk"}},
        }, "date_order": "us",
    },
    "Gainsight — ARR changes": {
        "object": "arr", "fields": {
            "external_id": "Change ID", "account_external_id": "Company GSID",
            "kind": {"column": "Type", "values": {
                "New": "new", "Expansion": "expansion", "Contraction": "contraction",
                "Churn": "churn"}},
            "amount": "ARR Change", "effective_date": "Effective Date",
        }, "date_order": "us",
    },
}  # fmt: skip

# (system, object type) → (file name, preset) in the order an import must take them:
# accounts before the leads and deals that name them, leads before the deals they became.
EXPORTS = [
    ("salesforce", "account", "salesforce_accounts.csv", "salesforce-account"),
    ("hubspot", "account", "hubspot_companies.csv", "hubspot-company"),
    ("gainsight", "account", "gainsight_companies.csv", "Gainsight — companies"),
    ("salesforce", "lead", "salesforce_leads.csv", "salesforce-lead"),
    ("hubspot", "lead", "hubspot_contacts.csv", "hubspot-contact"),
    ("salesforce", "deal", "salesforce_opportunities.csv", "salesforce-opportunity"),
    ("hubspot", "deal", "hubspot_deals.csv", "hubspot-deal"),
    ("gainsight", "arr", "gainsight_arr_changes.csv", "Gainsight — ARR changes"),
]


def _sf_time(series: pd.Series) -> pd.Series:
    """Salesforce's API datetime: 2025-03-04T10:11:00.000+0000 (blank stays blank)."""
    return series.dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000").fillna("")


def _hs_time(series: pd.Series) -> pd.Series:
    """HubSpot's export datetime: 2025-03-04 10:11, in the portal's time zone (UTC here)."""
    return series.dt.strftime("%Y-%m-%d %H:%M").fillna("")


def _day(series: pd.Series, fmt: str = "%Y-%m-%d") -> pd.Series:
    return pd.to_datetime(series).dt.strftime(fmt).fillna("")


def export_frames(data: DemoData) -> dict[str, pd.DataFrame]:
    """File name → the DataFrame to write as that CSV, with each vendor's column names,
    labels and formats."""
    f = data.frames
    sl, hl = f[("salesforce", "lead")], f[("hubspot", "lead")]
    sd, hd = f[("salesforce", "deal")], f[("hubspot", "deal")]
    sa, ha, ga = (
        f[("salesforce", "account")],
        f[("hubspot", "account")],
        f[("gainsight", "account")],
    )
    arr = f[("gainsight", "arr")]
    return {
        "salesforce_leads.csv": pd.DataFrame({
            "Id": sl["external_id"], "Email": sl["email"], "FirstName": sl["first_name"],
            "LastName": sl["last_name"], "Company": sl["company"],
            "Status": sl["stage"].map(_SF_STATUS), "LeadSource": sl["source"],
            "CreatedDate": _sf_time(sl["created_at"]),
            "ConvertedDate": _day(sl["converted_at"].dt.tz_localize(None)),
            "ConvertedOpportunityId": sl["converted_deal_external_id"],
            "IsConverted": sl["converted_at"].notna().map({True: "true", False: "false"}),
            "OwnerId": sl["owner"], "Country": sl["country"],
            "MQL_Date__c": _sf_time(sl["mql_at"]), "SAL_Date__c": _sf_time(sl["sal_at"]),
            "SQL_Date__c": _sf_time(sl["sql_at"]),
            "Disqualified_Date__c": _sf_time(sl["disqualified_at"]),
            "First_Touch_Date__c": _sf_time(sl["first_touch_at"]),
        }),
        "hubspot_contacts.csv": pd.DataFrame({
            "Record ID": hl["external_id"], "Email": hl["email"], "First Name": hl["first_name"],
            "Last Name": hl["last_name"], "Lifecycle Stage": hl["stage"].map(_HS_LIFECYCLE),
            "Original Source": hl["source"], "Create Date": _hs_time(hl["created_at"]),
            "Became a Marketing Qualified Lead Date": _hs_time(hl["mql_at"]),
            "Became a Sales Qualified Lead Date": _hs_time(hl["sql_at"]),
            "Associated Company": hl["company"], "Contact owner": hl["owner"],
            "Became a Sales Accepted Lead Date": _hs_time(hl["sal_at"]),
            "Became an Opportunity Date": _hs_time(hl["converted_at"]),
            "Country/Region": hl["country"],
        }),
        "salesforce_opportunities.csv": pd.DataFrame({
            "Id": sd["external_id"], "AccountId": sd["account_external_id"], "Name": sd["name"],
            "StageName": sd["stage"].map(_SF_STAGE), "Amount": sd["amount"].map("{:.2f}".format),
            "CloseDate": _day(sd["close_date"]), "CreatedDate": _sf_time(sd["created_at"]),
            "IsClosed": sd["stage"].isin(["closed_won", "closed_lost"]).map(
                {True: "true", False: "false"}),
            "IsWon": sd["stage"].eq("closed_won").map({True: "true", False: "false"}),
            "LeadSource": sd["source"].map({"marketing": "Inbound", "sales": "Outbound"}),
            "Type": sd["deal_type"].map(_SF_TYPE), "OwnerId": sd["owner"],
            "CurrencyIsoCode": sd["currency"], "Product__c": sd["product"],
        }),
        "hubspot_deals.csv": pd.DataFrame({
            "Record ID": hd["external_id"], "Deal Name": hd["name"],
            "Deal Stage": hd["stage"].map(_HS_STAGE), "Amount": hd["amount"].map("{:.2f}".format),
            "Close Date": _day(hd["close_date"]), "Create Date": _hs_time(hd["created_at"]),
            "Pipeline": "Sales Pipeline", "Deal Type": hd["deal_type"].map(_HS_TYPE),
            "Original Source": hd["source"].map({"marketing": "Organic Search",
                                                 "sales": "Outbound"}),
            "Deal owner": hd["owner"], "Salesforce Opportunity ID": hd["crm_id"],
            "Currency": hd["currency"],
        }),
        "salesforce_accounts.csv": pd.DataFrame({
            "Id": sa["external_id"], "Name": sa["name"], "Website": sa["domain"],
            "Industry": sa["industry"], "NumberOfEmployees": sa["employees"],
            "OwnerId": sa["owner"], "BillingCountry": sa["country"], "Type": sa["segment"],
        }),
        "hubspot_companies.csv": pd.DataFrame({
            "Record ID": ha["external_id"], "Company name": ha["name"],
            "Company Domain Name": ha["domain"], "Industry": ha["industry"],
            "Number of Employees": ha["employees"], "Country/Region": ha["country"],
        }),
        "gainsight_companies.csv": pd.DataFrame({
            "GSID": ga["external_id"], "Name": ga["name"], "Company Domain": ga["domain"],
            "CSM": ga["owner"], "Health Score": ga["health"].map(_GS_HEALTH),
            "Renewal Date": _day(ga["renewal_date"], "%m/%d/%Y"),
        }),
        # Customer success writes money as money and dates the American way.
        "gainsight_arr_changes.csv": pd.DataFrame({
            "Change ID": arr["external_id"], "Company GSID": arr["account_external_id"],
            "Type": arr["kind"].map(_GS_KIND),
            "ARR Change": arr["amount"].map("${:,.2f}".format),
            "Effective Date": _day(arr["effective_date"], "%m/%d/%Y"),
        }),
    }  # fmt: skip
