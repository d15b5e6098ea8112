from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render

from .models import Customer, Order, Product


def stats() -> dict:
    return {
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "products": Product.objects.count(),
        "revenue": str(Decimal(Order.objects.aggregate(total=Sum("amount"))["total"] or 0).quantize(Decimal("0.01"))),
    }


def home(request):
    return render(request, "customers/home.html", {"stats": stats(), "vendor": connection.vendor})


def health(request):
    return JsonResponse({"ok": True, "database": connection.vendor, **stats()})
