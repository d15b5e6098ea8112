from customers import views
from django.urls import path

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
]
