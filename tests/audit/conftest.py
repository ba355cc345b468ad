from tests.mechanisms.conftest import make_mechanism  # noqa: F401 - the fixture, shared
