"""Built-in HTTP transport plugins, one module per HTTP library.

Each module registers its transport through ``llmplug_register_transports``
and imports its backend library only when the transport is built. Calling the
package lists every transport name: ``llmplug.transports()``.
"""

from llmplug.core.plugins import make_listing_package

make_listing_package(__name__, "transports")
