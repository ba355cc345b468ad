from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The home page: the top layer, free to read every app below it."""

    name = "home"
    verbose_name = "Home"
