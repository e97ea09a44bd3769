"""Built-in provider plugins: one module per provider family.

Calling the package lists every provider name: ``llmplug.providers()``.
"""

from llmplug.core.plugins import make_listing_package

make_listing_package(__name__, "providers")
