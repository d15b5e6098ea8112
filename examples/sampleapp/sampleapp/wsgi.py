"""WSGI entry point, for a production server such as gunicorn."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleapp.settings")

application = get_wsgi_application()
