"""The web pages (FastAPI, pages rendered on the server in French, no JavaScript needed).

``site.create_site(app)`` builds the ASGI application: a company declares a month from the signed
link of its email (``declarations``). Routes only translate: they read the form, call a function
of ``workflow.app`` and render its frozen view.
"""
