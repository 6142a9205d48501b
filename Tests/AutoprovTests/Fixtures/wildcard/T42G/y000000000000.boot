#!version:1.0.0.1
include:config <never.cfg>
