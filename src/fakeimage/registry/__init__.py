"""The model registry: MLflow (store.py), the champion rule (promotion.py), promote's work."""
