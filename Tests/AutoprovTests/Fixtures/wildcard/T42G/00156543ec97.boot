#!version:1.0.0.1
include:config <t42g.cfg>
include:config <../common.cfg>
