from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmarks behind `make bench-*`: their commands and the scripts they hand to wrk and
    locust. Not product code: nothing in the product imports it, and the Docker image leaves
    it out."""

    name = "bench"
    verbose_name = "Benchmarks"
