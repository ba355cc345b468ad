CREATE TEMP TABLE _pending AS
WITH staged AS (
    SELECT n.row_no,
        CAST(n.first_name AS text) AS first_name,
        CAST(n.last_name AS text) AS last_name,
        CAST(n.company AS text) AS company,
        CAST(n.stage AS text) AS stage,
        CAST(n.source AS text) AS source,
        CAST(n.owner AS text) AS owner,
        CAST(n.country AS text) AS country,
        CAST(n.created_at AS timestamp with time zone) AS created_at,
        CAST(n.mql_at AS timestamp with time zone) AS mql_at,
        CAST(n.sal_at AS timestamp with time zone) AS sal_at,
        CAST(n.sql_at AS timestamp with time zone) AS sql_at,
        CAST(n.converted_at AS timestamp with time zone) AS converted_at,
        CAST(n.disqualified_at AS timestamp with time zone) AS disqualified_at,
        CAST(n.first_touch_at AS timestamp with time zone) AS first_touch_at,
        CAST(n.external_id AS text) AS external_id,
        CAST(coalesce(n.raw_email, '') AS text) AS email,
        CAST(coalesce(n.email, '') AS text) AS email_key,
        CAST('' AS text) AS phone,
        CAST('' AS text) AS phone_key,
        CAST(n.account_external_id AS text) AS account_external_id,
        CAST(NULL AS bigint) AS account_system_id,
        CAST(n.converted_deal_external_id AS text) AS converted_deal_external_id
    FROM _norm n
)
SELECT s.row_no + 1 AS batch_row, ss.id AS system_id,
    CASE WHEN s.email_key <> '' AND NOT (s.email_key = ANY('{a@a.com,no@email.com,none@none.com,test@test.com}'::text[]) OR starts_with(s.email_key, 'noemail@')) THEN s.email_key WHEN ss.match_by_phone AND s.phone_key <> '' THEN 'tel:' || s.phone_key ELSE ss.slug || ':' || s.external_id END AS golden_key,
    now() AS updated_at, 4611686018427387904 + s.row_no AS rep_id, (t.id IS NOT NULL) AS existed,
    s.first_name, s.last_name, s.company, s.stage, s.source, s.owner, s.country, s.created_at, s.mql_at, s.sal_at, s.sql_at, s.converted_at, s.disqualified_at, s.first_touch_at, s.external_id, s.email, s.email_key, s.phone, s.phone_key, s.account_external_id, s.account_system_id, s.converted_deal_external_id
FROM staged s
JOIN pipeline_sourcesystem ss ON ss.id = <system>
LEFT JOIN pipeline_sourcelead t ON t.system_id = ss.id AND t.external_id = s.external_id
LEFT JOIN pipeline_lead g ON g.id = t.lead_id
WHERE t.id IS NULL OR g.id IS NULL OR t.deleted_at IS NOT NULL
    OR (t.first_name, t.last_name, t.company, t.stage, t.source, t.owner, t.country, t.created_at, t.mql_at, t.sal_at, t.sql_at, t.converted_at, t.disqualified_at, t.first_touch_at, t.external_id, t.email, t.email_key, t.phone, t.phone_key, t.account_external_id, t.account_system_id, t.converted_deal_external_id, t.golden_key) IS DISTINCT FROM (s.first_name, s.last_name, s.company, s.stage, s.source, s.owner, s.country, s.created_at, s.mql_at, s.sal_at, s.sql_at, s.converted_at, s.disqualified_at, s.first_touch_at, s.external_id, s.email, s.email_key, s.phone, s.phone_key, s.account_external_id, s.account_system_id, s.converted_deal_external_id, CASE WHEN s.email_key <> '' AND NOT (s.email_key = ANY('{a@a.com,no@email.com,none@none.com,test@test.com}'::text[]) OR starts_with(s.email_key, 'noemail@')) THEN s.email_key WHEN ss.match_by_phone AND s.phone_key <> '' THEN 'tel:' || s.phone_key ELSE ss.slug || ':' || s.external_id END)
