"""Build-time machinery of the site: the chapter runner, generated pages, the Sphinx extension, static assets.
Nothing in the package imports it."""
