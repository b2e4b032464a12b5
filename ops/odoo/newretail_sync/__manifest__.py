# An optional Odoo add-on for newretail store appliances (docs/odoo.md, "The optional add-on").
{
    "name": "newretail appliance sync",
    "summary": "Answers a newretail store appliance's poll in one request",
    "version": "17.0.1.0.0",
    "category": "Hidden",
    "depends": ["product", "stock"],
    "data": [],
    "license": "LGPL-3",
    "installable": True,
    "application": False,
}
