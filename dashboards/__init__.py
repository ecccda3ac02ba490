"""The merchants' Streamlit app."""
