import ProvisioningCore

extension FileService {
    /// What the file service is told by the configuration: where the files are, who may open what, which uploads
    /// are allowed, and what is encrypted on the way out.
    public struct Settings: Sendable, Hashable {
        /// The provisioning root: the files phones download.
        public var root: String
        /// The data folder; the upload store is its `uploads` folder.
        public var data: String
        /// Directories that need a user name and password (S5, R8.2).
        public var directories: [DirectoryAccount] = []
        /// Accounts that may log in (FTP) besides those of ``directories``; they open no directory.
        public var logins: [DirectoryAccount] = []
        /// Anonymous, read-only logins.
        public var anonymousLogin = false
        /// Upload names allowed (S4), as `*`, `?` and `$MAC` patterns on the file name.
        public var uploadPatterns = ["$MAC-local.cfg", "$MAC-contact.xml"]
        /// The largest upload accepted, in bytes.
        public var uploadMaximumBytes = 1_048_576
        /// The bytes of uploads received and not yet stored, from all clients at once (``UploadBudget``).
        public var uploadBudgetBytes = 64 * 1024 * 1024
        /// How long uploads stay in the journal before a checkpoint flushes them where they are (``UploadJournal``).
        public var uploadCheckpointSeconds = 10
        /// The key for common CFG files and a file of `mac,key` lines (R6.3); empty: none.
        public var encryptionCommonKey = ""
        public var encryptionKeysFile = ""
        /// How long a file answer is reused without a `stat` (nginx's `open_file_cache_valid`): an edit on disk is
        /// served within this, an upload at once.
        public var revalidateAfter: Duration = .seconds(1)
        /// What `{{server_url}}` is in generated files.
        public var templateServerURL = "http://localhost/"
        /// Memory for generated files kept rendered (beyond it they are rendered again on request).
        public var generatedCacheBytes = 96 * 1024 * 1024
        /// What the files of the root and the upload store kept in memory may cost (``ServedFile/cost``). A fleet's
        /// `<mac>.cfg` files are each asked for once a boot: kept without bound they would hold a hundred thousand
        /// phones' files besides the kernel's page cache (a 100,000-phone storm peaked at 636 MB). At the budget the
        /// cache starts again, and files are read anew, from the page cache.
        public var fileCacheBytes = 64 * 1024 * 1024

        public init(root: String, data: String) {
            self.root = root
            self.data = data
        }
    }
}
