from odoo import api, models


class NewretailSync(models.AbstractModel):
    """What a newretail store appliance asks Odoo at every poll, answered in one request.

    Without this add-on the poll of a store that prices with a pricelist is two requests (the
    changed products, then the pricelist rules' count and last write); with it, one. Nothing is
    stored and nothing runs with more rights than the calling user's.
    """

    _name = "newretail.sync"
    _description = "newretail appliance poll"

    @api.model
    def poll(self, domain, fields, limit, pricelist_ids=False):
        """The products matching ``domain`` (``search_read`` ordered by id, at most ``limit``)
        and, when ``pricelist_ids`` is given, how many rules those pricelists have and when the
        last one was written (``read_group`` of ``product.pricelist.item``)."""
        answer = {
            "products": self.env["product.product"].search_read(
                domain, fields, limit=limit, order="id"
            ),
        }
        if pricelist_ids:
            group = self.env["product.pricelist.item"].read_group(
                [("pricelist_id", "in", pricelist_ids)], ["write_date:max"], []
            )[0]
            answer["rules"] = {"count": group["__count"], "write_date": group["write_date"]}
        return answer
