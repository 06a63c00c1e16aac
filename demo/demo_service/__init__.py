"""The demo service that the ``local`` environment deploys: good and deliberately faulty builds."""
