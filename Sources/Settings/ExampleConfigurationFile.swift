extension ServerConfiguration {
    /// The documented configuration file, every key with its default.
    public static let exampleFile = """
        # autoprov.toml: every key with its default. Command-line flags override the file.
        root = "provisioning"          # the files phones download
        data = "autoprov-data"         # database, uploads (with earlier versions), generated certificate

        [tftp]
        listen = "0.0.0.0:69"          # "off" disables the listener

        [http]
        listen = "0.0.0.0:80"          # also serves GET /metrics (Prometheus)

        [https]
        listen = "0.0.0.0:443"
        certificate = ""               # PEM; when both are empty a self-signed pair is made once in data/tls
        private_key = ""
        client_ca = ""                 # PEM bundle; when set, clients must present a certificate it signed
        ciphers = []                   # TLS 1.2 suites by OpenSSL name; []: ECDHE with AES-GCM or ChaCha20 only

        [admin]
        listen = "127.0.0.1:8090"      # the web console (/) and the REST API (/api/v1, bearer tokens); "off"
        tls = false                    # true: HTTPS with the [https] certificate (and Secure session cookies)

        [ftp]
        listen = "0.0.0.0:21"          # FTP, and explicit FTPS (AUTH TLS) with the HTTPS certificate
        passive_ports = "50000-50100"  # data connections (PASV/EPSV); open them in the firewall
        passive_address = ""           # the address announced in PASV replies (behind NAT); "": the one reached
        anonymous = false              # anonymous, read-only logins (user "anonymous" or "ftp")
        epsv_reply_delay_us = 100      # hold EPSV replies this long (µs): curl 7.88 otherwise waits 1 s per file; 0: at once
        # FTP accounts; a [[directory]] account may log in too, and only it opens its directory.
        # [[ftp.user]]
        # username = "phones"
        # password = "secret"

        [pnp]                          # SIP Plug-and-Play: answers the phones' multicast SUBSCRIBE with the URL
        enabled = true
        listen = "0.0.0.0:5060"        # UDP; also answers unicast. A port in use is a warning, not a failure.
        interfaces = []                # where to join 224.0.1.75, e.g. ["eth0"]; []: the system's choice
        url = ""                       # the URL sent ($MAC, $PN, $SERVER filled in); "": the HTTP listener's URL
        allow_ouis = ["00:15:65", "e4:34:d7", "80:5e:c0", "80:5e:0c", "24:9a:d8", "44:db:d2", "64:4f:56", "ec:1d:a9", "34:97:d7", "b0:61:a9", "c4:fc:22", "f0:16:53"]
        known_devices_only = false     # answer only phones with a <mac>.cfg/<mac>.boot here or already seen

        [dhcp]                         # a built-in DHCPv4 server for small sites and labs (R8.1); off by default
        enabled = false
        interface = ""                 # required when enabled: it answers on this interface only, e.g. "eth1"
        pool = ""                      # required when enabled: "192.0.2.100-192.0.2.199", inside the interface's subnet
        subnet_mask = ""               # "": the interface's own
        router = ""
        dns = []                       # e.g. ["192.0.2.53"]
        ntp = []
        lease_seconds = 86400
        relayed = false                # true: the pool is on the relay agents' network (giaddr), set subnet_mask
                                       # for it; only relayed requests are answered
        option66 = ""                  # the provisioning URL in option 66, e.g. "http://192.0.2.1:8080/"
        option43 = ""                  # ... in option 43 (how Yealink reads 43 is not public)
        # option43_suboption = 1       # send option43 as this vendor sub-option instead of the whole option
        # custom_option = 160          # a custom option 128-254, which phones read first
        # custom_value = "http://192.0.2.1:8080/$PN/"
        # [[dhcp.reservation]]
        # mac = "00:15:65:74:b1:50"
        # ip = "192.0.2.50"

        # [store]                      # where the inventory is kept; without it, SQLite in the data folder
        # url = "postgresql://autoprov@db.example.net:5432/autoprov?sslmode=require"   # shared by several nodes
        # password_file = "/etc/autoprov/pgpass"   # when the URL has none; else PGPASSWORD
        # poll_seconds = 1             # a node's look at the inventory's revision (PostgreSQL also notifies at once)

        [inventory]                    # devices and groups ('autoprov device', 'autoprov group')
        secret_variables = ["*password*", "*secret*", "*pin*"]   # masked in listings unless --with-secrets
        server_url = ""                # {{server_url}} for render, resolve and template lint; empty: the HTTP listener's URL
        secrets = "device"             # secret lines only to their own device; "open": to anyone
        notify_on_change = false       # serve tells the devices a change reached (check-sync), by itself
        notify_rate = 10               # ... this many a second
        notify_port = 5060             # ... on this SIP port of the address serve last saw each at
        pending_per_address = 100      # unknown phones added as pending, at most this many per address (0: none)
        auto_approve = []              # OUIs ("00:15:65") or models whose unknown phones are added active
        cache_mb = 96                  # memory for generated files kept rendered; the rest are rendered on request
        # [inventory.variables]        # variables every template sees, below the device's and its groups'
        # sip_server = "pbx.example.com"

        [encryption]                   # served files encrypted on the fly (R6.3); files on disk stay plain
        common_key = ""                # 16 or 32 characters: common CFG files go out encrypted with it
        keys = ""                      # a file of 'mac,key' lines: <mac>.cfg goes out encrypted with its key

        [limits]                       # so that one client cannot take what the others need (S6)
        connections = 16384            # HTTP and HTTPS connections open at once, from all addresses together
        connections_per_address = 4096 # from one address
        ftp_sessions = 1000            # FTP sessions open at once, from all addresses together (421 past it)
        ftp_sessions_per_address = 256 # from one address
        connections_exempt = []        # addresses or networks not counted, e.g. ["10.0.0.0/8"] (a NAT, a proxy)
        head_timeout_seconds = 10      # an HTTP request head must arrive whole within this (a byte a second is not enough)
        head_bytes = 16384             # the longest HTTP request head (a phone's is under 1 KB); longer ones get 431
        ftp_login_timeout_seconds = 60 # an FTP session must log in within this
        tftp_transfers = 4096          # TFTP requests answered at once (each holds a socket); more wait for retries
        tftp_transfers_per_address = 256   # from one address (phones behind one NAT share it)
        file_cache_mb = 64             # files kept in memory; the rest are read again (from the page cache) on request
        upload_mb = 64                 # uploads received and not yet stored, in all; past it 503, TFTP error 3, FTP 452

        [uploads]
        allow = ["$MAC-local.cfg", "$MAC-contact.xml"]   # names phones may upload (HTTP PUT, TFTP WRQ, FTP STOR);
                                                          # $MAC: 12 lower-case hex digits, * and ? as in a shell
        max_bytes = 1048576
        checkpoint_seconds = 10        # uploads are durable at once through a journal; after this the journal is
                                       # folded into the files with one flush of the disk, and dropped

        # Activation-code directories (R8.2): files below `path` need this user name and password.
        # [[directory]]
        # path = "T23G_1"
        # username = "user1"
        # password = "secret1"

        """
}
