"""Built-in provider plugins: one module per provider family.

``llmplug.providers()`` (a function of the ``llmplug`` package) lists every
provider name, built-in and installed.
"""
