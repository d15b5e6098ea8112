from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"
