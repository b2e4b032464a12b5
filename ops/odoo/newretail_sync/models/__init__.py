from . import newretail_sync
