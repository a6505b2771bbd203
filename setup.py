"""Installs recurring_payments_core, the plain-Python rules of the recurring payments addons."""

from setuptools import find_packages, setup

setup(
    name="recurring-payments-core",
    version="18.0.1.0.0",
    description="Billing, retry and SEPA rules for the recurring payments addons of Odoo 18",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="LGPL-3",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"recurring_payments_core": ["py.typed"]},
    python_requires=">=3.10",
    install_requires=[
        "stripe>=14,<17",
        "schwifty>=2024.1",
        "lxml",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "hypothesis>=6",
            "freezegun",
            "lxml",
            "polib",
            "localstripe",
            "sepaxml>=2.6",
        ],
        "lint": [
            "ruff",
            "pylint-odoo",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Odoo",
        "Framework :: Odoo :: 18.0",
        "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)",
    ],
)
