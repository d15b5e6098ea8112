from setuptools import find_packages, setup

setup(
    name="heroku-tools",
    version="0.1.0",
    description="Fabric/Invoke tasks that ship Django apps on Heroku: dev → uat → live, safely.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=["tests*", "examples*", "bench*"]),
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "invoke>=2.0,<4",
        "sh>=2.0,<3",
        "PyYAML>=6",
        "colorama>=0.4.6",
        # .env files are read with python-dotenv's own parser (heroku_tools.configvars.dotenv).
        "python-dotenv>=1",
    ],
    extras_require={
        "fabric": ["fabric>=3.2,<4"],
        # The local Heroku: TLS certificates for its HTTPS and rendezvous endpoints.
        "sandbox": ["cryptography>=41"],
        # PostgreSQL server binaries in a wheel, for machines without a system PostgreSQL.
        "sandbox-postgres": ["pgserver>=0.1.4"],
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "jsonschema>=4.18",
            "hypothesis>=6",
            "pexpect>=4.8",
            "Django>=4.2,<6",
            "dj-database-url>=2",
            "psycopg[binary]>=3.1",
        ],
    },
    entry_points={"console_scripts": ["heroku-tools = heroku_tools.cli:program.run"]},
    classifiers=[
        "Framework :: Django",
        "Operating System :: POSIX",
        "Programming Language :: Python :: 3",
    ],
)
