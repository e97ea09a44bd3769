"""Built-in HTTP transport plugins, one module per HTTP library.

Each module registers its transport through ``llmplug_register_transports``
and imports its backend library only when the transport is built.
``llmplug.transports()`` (a function of the ``llmplug`` package) lists every
transport name.
"""

#: The built-in transport plugin modules, registered in this order in every manager.
PLUGINS = (
    "llmplug.transports.httpx", "llmplug.transports.requests", "llmplug.transports.urllib", "llmplug.transports.aiohttp",
)
