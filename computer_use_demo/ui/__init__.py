"""Pieces of the Streamlit app: live rendering, history, sidebar, usage, HTTP log."""
