#!version:1.0.0.1
include:config “features.cfg”
include:config <missing.cfg>
include:config <sip.cfg
overwrite_mode = 2
account.1.label = x
