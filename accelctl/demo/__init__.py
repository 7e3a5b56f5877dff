"""`accelctl demo`: the whole loop on one machine — local fleet, local router, watch, a capacity fault."""
