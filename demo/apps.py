from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo company, Northwind Analytics: generated records, its scorecard plan, mechanisms
    and disputes, and the commands `make demo` runs. Not product code: nothing in the product
    imports it, and the Docker image leaves it out."""

    name = "demo"
    verbose_name = "Demo data"
