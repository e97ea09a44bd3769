"""Built-in provider plugins: one module per provider family.

``llmplug.providers()`` (a function of the ``llmplug`` package) lists every
provider name, built-in and installed.
"""

#: The built-in provider plugin modules, registered in this order in every manager.
PLUGINS = ("llmplug.providers.openai", "llmplug.providers.gemini", "llmplug.providers.gemini.retry_info")
