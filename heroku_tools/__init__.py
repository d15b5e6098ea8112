"""heroku-tools: Fabric/Invoke tasks that ship Django apps on Heroku, dev → uat → live."""

__version__ = "0.1.0"
