"""Test doubles of outside services (kept out of the shipped packages)."""
