#!version:1.0.0.1
include:config <t46g.cfg>
