"""Composition root: creates the Functions app and registers the blueprints in functions/. Nothing else."""

import azure.functions as func

from functions.events import blueprint as events
from functions.http_api import blueprint as http_api
from functions.outbox import blueprint as outbox
from functions.pushes import blueprint as pushes
from functions.reconcile import blueprint as reconcile

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (events, pushes, reconcile, outbox, http_api):
    app.register_functions(blueprint)
