"""Suite-wide pytest configuration: registers the shared fixture plugins."""

pytest_plugins = [
    "tests.plugins.xvfb",
    "tests.plugins.fake_api",
    "tests.plugins.redis_server",
    "tests.plugins.screen",
    "tests.plugins.settings",
    "tests.plugins.tools_account",
]
