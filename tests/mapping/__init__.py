"""Tests for the pure Shopify -> Pinterest mapping."""
