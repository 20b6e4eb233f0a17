"""The ipywidgets panel: provider, login, threads and Stop, bound to the shared Session."""
