"""The web page (Streamlit) and its HTTP client for the BentoML detection service.

`client` is plain Python (requests only) so it can be tested without Streamlit; `page` is the
Streamlit script that `make app` runs and only renders what the client returns.
"""
