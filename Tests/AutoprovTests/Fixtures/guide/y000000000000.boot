#!version:1.0.0.1
## The header above must appear as-is in the first line

include:config <tftp://10.2.5.193/network.cfg>
include:config <../sip.cfg>

include:config "features.cfg"

overwrite_mode = 1
