"""Print row counts: a cheap way to see, from ``heroku run``, what a database holds."""
from django.core.management.base import BaseCommand
from django.db import connection

from customers.views import stats


class Command(BaseCommand):
    help = "Print how many customers, orders and products the database holds."

    def handle(self, *args, **options):
        self.stdout.write(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}")
        for key, value in stats().items():
            self.stdout.write(f"{key}: {value}")
