"""Create deterministic fake customers and their orders, fast.

``python manage.py seed_customers --count 500`` always creates the same
people for the same ``--seed`` and starting data: handy to fill a dev or uat
database with realistic-looking personal data that anonymisation must scrub.
"""
import datetime as dt
import random
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from customers.models import Customer, Order, Product

FIRST_NAMES = [
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Dennis",
    "Frances", "Ken", "Radia", "Tim", "Sophie", "Linus", "Karen", "Guido",
]
LAST_NAMES = [
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Ritchie",
    "Allen", "Thompson", "Perlman", "Berners-Lee", "Wilson", "Torvalds", "Jones", "Rossum",
]
STREETS = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Victoria Road"]
TOWNS = ["Bristol", "Leeds", "Norwich", "York", "Bath", "Exeter", "Durham", "Oxford"]
EPOCH = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.timezone.utc)


class Command(BaseCommand):
    help = "Create N deterministic fake customers, each with up to three orders."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=100, help="how many customers to create (default 100)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--max-orders", type=int, default=3, help="orders per customer, at most (default 3)")

    def handle(self, *args, count, seed, max_orders, **options):
        if count < 0 or max_orders < 0:
            raise CommandError("--count and --max-orders must not be negative")
        start = Customer.objects.count()
        rng = random.Random(seed * 1_000_003 + start)
        products = list(Product.objects.all())

        with transaction.atomic():
            customers = self._customers(rng, start, count)
            Customer.objects.bulk_create(customers, batch_size=1000)
            # Re-read to get primary keys on every backend.
            by_email = dict(
                Customer.objects.filter(email__in=[c.email for c in customers]).values_list("email", "pk")
            )
            orders = []
            for customer in customers:
                for n in range(rng.randint(0, max_orders)):
                    product = rng.choice(products) if products else None
                    quantity = rng.randint(1, 3)
                    price = product.price if product else Decimal(rng.randint(500, 9_999)) / 100
                    orders.append(
                        Order(
                            customer_id=by_email[customer.email],
                            product=product,
                            quantity=quantity,
                            amount=price * quantity,
                            placed_at=customer.created_at + dt.timedelta(days=n + 1, minutes=rng.randint(0, 600)),
                        )
                    )
            Order.objects.bulk_create(orders, batch_size=1000)

        self.stdout.write(f"Created {len(customers)} customers and {len(orders)} orders.")

    def _customers(self, rng: random.Random, start: int, count: int) -> list[Customer]:
        customers: list[Customer] = []
        index = start
        while len(customers) < count:
            batch = []
            for _ in range(count - len(customers)):
                index += 1
                batch.append(self._customer(rng, index))
            # Emails are unique: skip any that rows made by other means already use.
            taken = set(Customer.objects.filter(email__in=[c.email for c in batch]).values_list("email", flat=True))
            customers.extend(c for c in batch if c.email not in taken)
        return customers

    def _customer(self, rng: random.Random, index: int) -> Customer:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        return Customer(
            first_name=first,
            last_name=last,
            email=f"{first}.{last}.{index}@example.com".lower().replace("-", ""),
            phone=f"+44 7700 9{rng.randint(0, 99_999):05d}",
            address=f"{rng.randint(1, 250)} {rng.choice(STREETS)}\n{rng.choice(TOWNS)}",
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 20_000)),
            notes=rng.choice(["", "Prefers email.", "VIP.", "Called about a late delivery."]),
            created_at=EPOCH + dt.timedelta(hours=index),
        )
