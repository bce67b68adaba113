"""Summarisers: Korean bullets from LLM back-ends or the offline extractive one, behind a validation gate."""
