"""musicrnn studio: a local page over the generator (`musicrnn_studio`).

`studio.Studio` holds the models and every file the page made; `server`
serves the page and its JSON API over `Studio` (Python's own HTTP server,
on 127.0.0.1 by default). The page's assets (`static/`) ship in the package:
no network request leaves the page's own server.
"""
