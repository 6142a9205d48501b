import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The console's HTML: Mustache templates compiled once. Every value goes through `{{…}}`, which escapes it; the one
/// triple mustache is the layout's `{{{body}}}`, the page this library rendered (and escaped) itself.
enum ConsoleViews {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            do {
                try library.register(text, named: name)
            } catch {
                fatalError("console template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    /// A whole page: `template` rendered with `values`, inside the layout (navigation, the signed-in account, the
    /// logout form with its CSRF token).
    static func page(_ template: String, title: String, values: [String: Any], session: ConsoleSession?,
                     status: HTTPResponse.Status = .ok) -> Response {
        var values = values
        if let session {
            values["csrf"] = session.csrf
            values["canWrite"] = session.role == .write
        }
        let body = library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let session {
            layout["session"] = ["user": session.user, "role": session.role.rawValue, "csrf": session.csrf]
            layout["nav"] = navigation.map { ["href": $0.0, "label": $0.1, "current": $0.1 == title] }
        }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Response(status: status, headers: headers(type: "text/html; charset=utf-8"),
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let navigation = [("/", "Fleet"), ("/devices", "Devices"), ("/pending", "Pending"), ("/templates", "Templates"),
                             ("/log", "Log")]

    /// What every console answer carries: no framing by other sites, scripts and styles from this listener alone,
    /// nothing cached.
    static func headers(type: String) -> HTTPFields {
        [.contentType: type, .cacheControl: "no-store",
         .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
         HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin"]
    }

    /// A static asset.
    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: headers(type: type), body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 to `location` (after a post, so that reloading does not post again).
    static func redirect(_ location: String) -> Response {
        var headers = headers(type: "text/plain; charset=utf-8")
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    static let templates: [String: String] = [
        "layout": """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · autoprov</title><link rel="stylesheet" href="/console.css"><script src="/console.js" defer></script></head>
            <body>
            {{#session}}<header><a class="brand" href="/">autoprov</a><nav>{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
            <form class="logout" method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><span>{{user}} · {{role}}</span><button>Log out</button></form></header>{{/session}}
            <main>
            {{{body}}}
            </main></body></html>
            """,
        "login": """
            <section class="login"><h1>autoprov</h1>
            {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
            <form method="post" action="/login"><input type="hidden" name="csrf" value="{{loginToken}}">
            <label>Name <input name="name" autocomplete="username" required autofocus value="{{name}}"></label>
            <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
            <button>Log in</button></form></section>
            """,
        "error": """
            <h1>{{heading}}</h1><p class="error" role="alert">{{message}}</p><p><a href="/">Back to the fleet</a></p>
            """,
        "fleet": """
            <h1>Fleet</h1>
            <div class="cards">
            <a class="card" href="/devices"><b>{{total}}</b> devices</a>
            {{#states}}<a class="card" href="/devices?state={{state}}"><b>{{count}}</b> {{state}}</a>{{/states}}
            <a class="card" href="/pending"><b>{{pending}}</b> awaiting approval</a>
            <span class="card"><b>{{seenHour}}</b> seen in the last hour</span>
            <span class="card"><b>{{seenDay}}</b> seen in the last day</span>
            </div>
            <div class="columns">
            <section><h2>Devices by model and state</h2>
            <table><thead><tr><th>Model</th>{{#stateNames}}<th class="number">{{.}}</th>{{/stateNames}}</tr></thead><tbody>
            {{#models}}<tr><td><a href="/devices?model={{model}}">{{model}}</a></td>{{#counts}}<td class="number">{{.}}</td>{{/counts}}</tr>{{/models}}
            </tbody></table>{{^models}}<p class="empty">No devices yet.</p>{{/models}}</section>
            <section><h2>Firmware in use</h2>
            <table><thead><tr><th>Version</th><th class="number">Phones</th></tr></thead><tbody>
            {{#firmware}}<tr><td>{{version}}</td><td class="number">{{phones}}</td></tr>{{/firmware}}
            </tbody></table>{{^firmware}}<p class="empty">No phone has reported its firmware yet.</p>{{/firmware}}</section>
            <section><h2>Requests per minute</h2>
            <table><thead><tr><th>Minute</th><th class="number">Requests</th><th class="number">Errors</th></tr></thead><tbody>
            {{#minutes}}<tr><td>{{label}}</td><td class="number">{{requests}}</td><td class="number{{#hasErrors}} bad{{/hasErrors}}">{{errors}}</td></tr>{{/minutes}}
            </tbody></table></section>
            </div>
            """,
        "devices": """
            <h1>Devices</h1>
            <form class="filters" method="get" action="/devices">
            <label>Search <input type="search" name="q" value="{{q}}" placeholder="MAC, label or variable"></label>
            <label>Model <input name="model" value="{{model}}" size="8"></label>
            <label>Group <select name="group"><option value="">any</option>{{#groups}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/groups}}</select></label>
            <label>State <select name="state"><option value="">any</option>{{#states}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/states}}</select></label>
            <button>Filter</button></form>
            {{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
            <table class="devices"><thead><tr><th>MAC</th><th>Model</th><th>Label</th><th>State</th><th>Groups</th></tr></thead><tbody>
            {{#devices}}<tr><td><a href="/devices/{{mac}}">{{mac}}</a></td><td>{{model}}</td><td>{{label}}</td><td><span class="state {{state}}">{{state}}</span></td><td>{{groups}}</td></tr>{{/devices}}
            </tbody></table>
            {{^devices}}<p class="empty">No device matches.</p>{{/devices}}
            <p class="pager">{{#first}}<a href="{{first}}">First page</a>{{/first}} {{#next}}<a rel="next" href="{{next}}">Next {{limit}}</a>{{/next}}</p>
            {{#canWrite}}<details{{#addError}} open{{/addError}}><summary>Add a device</summary>
            {{#addError}}<p class="error" role="alert">{{addError}}</p>{{/addError}}
            <form class="stacked" method="post" action="/devices"><input type="hidden" name="csrf" value="{{csrf}}">
            <label>MAC <input name="mac" required placeholder="00:15:65:aa:bb:cc"></label>
            <label>Model <input name="model" required placeholder="T46S"></label>
            <label>Label <input name="label"></label>
            <label>Groups <input name="groups" placeholder="sales, floor2"></label>
            <button>Add</button></form></details>{{/canWrite}}
            """,
        "device": """
            <h1>{{device.mac}} <small>{{device.model}}</small> <span class="state {{device.state}}">{{device.state}}</span></h1>
            {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
            {{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
            {{#canWrite}}<div class="actions">
            {{#pending}}<form method="post" action="/devices/{{device.mac}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><button>Approve</button></form>
            <form method="post" action="/devices/{{device.mac}}/reject"><input type="hidden" name="csrf" value="{{csrf}}"><button class="danger">Reject</button></form>{{/pending}}
            <form method="post" action="/devices/{{device.mac}}/check-sync"><input type="hidden" name="csrf" value="{{csrf}}"><button>Send check-sync</button></form>
            </div>{{/canWrite}}
            <section><h2>Device</h2>
            <dl><dt>Label</dt><dd>{{device.label}}</dd><dt>Groups</dt><dd>{{device.groups}}</dd><dt>Last seen</dt><dd>{{lastSeen}}</dd></dl>
            <table><thead><tr><th>Variable</th><th>Value</th></tr></thead><tbody>
            {{#variables}}<tr><td>{{name}}</td><td>{{value}}</td></tr>{{/variables}}</tbody></table>{{^variables}}<p class="empty">No variables of its own.</p>{{/variables}}
            {{#canWrite}}<details><summary>Edit</summary>
            <form class="stacked" method="post" action="/devices/{{device.mac}}"><input type="hidden" name="csrf" value="{{csrf}}">
            <label>Label <input name="label" value="{{device.label}}"></label>
            <label>Groups <input name="groups" value="{{device.groups}}"></label>
            <label>State <select name="state">{{#states}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/states}}</select></label>
            <label>Variables, one <code>name=value</code> a line (a masked secret keeps its value)
            <textarea name="variables" rows="6">{{variablesText}}</textarea></label>
            <button>Save</button></form>
            <form method="post" action="/devices/{{device.mac}}/delete"><input type="hidden" name="csrf" value="{{csrf}}"><button class="danger">Remove from the inventory</button></form>
            </details>{{/canWrite}}</section>
            <section><h2>Files it is served</h2>
            <table><thead><tr><th>File</th><th>Templates</th><th>MD5</th><th class="number">Bytes</th></tr></thead><tbody>
            {{#files}}<tr><td><a href="/devices/{{device.mac}}/files/{{name}}">{{name}}</a></td><td>{{templates}}</td><td><code>{{md5}}</code></td><td class="number">{{bytes}}</td></tr>{{/files}}
            </tbody></table>{{^files}}<p class="empty">No template generates a file for it.</p>{{/files}}</section>
            <section><h2>Effective configuration</h2>
            {{#resolveProblem}}<p class="error">{{resolveProblem}}</p>{{/resolveProblem}}
            <table class="settings"><thead><tr><th>Setting</th><th>Value</th><th>Set by</th><th>Template line and variables</th></tr></thead><tbody>
            {{#settings}}<tr><td><code>{{key}}</code></td><td>{{value}}</td><td>{{file}}</td><td>{{origin}}</td></tr>{{/settings}}
            </tbody></table>{{^settings}}<p class="empty">Nothing is set: the phone keeps its factory defaults.</p>{{/settings}}</section>
            <section><h2>Uploaded local files</h2>
            {{#uploads}}<details><summary>Version {{version}} · {{time}} · {{bytes}} bytes</summary>
            <table><thead><tr><th>Setting</th><th>Before</th><th>After</th></tr></thead><tbody>
            {{#changes}}<tr class="{{kind}}"><td><code>{{key}}</code></td><td>{{old}}</td><td>{{new}}</td></tr>{{/changes}}
            </tbody></table>{{^changes}}<p class="empty">No setting changed.</p>{{/changes}}</details>{{/uploads}}
            {{^uploads}}<p class="empty">The phone has uploaded no local file.</p>{{/uploads}}</section>
            <section><h2>Recent requests</h2>{{> requests}}<p><a href="/log?mac={{device.mac}}">The whole log for this device</a></p></section>
            """,
        "requests": """
            <table class="log"><thead><tr><th>Time (UTC)</th><th>Protocol</th><th>Client</th><th>Path</th><th>Result</th><th class="number">Bytes</th><th>MAC</th></tr></thead><tbody>
            {{#requests}}<tr><td>{{time}}</td><td>{{protocol}}</td><td>{{client}}</td><td><code>{{path}}</code></td><td class="{{#error}}bad{{/error}}">{{result}}</td><td class="number">{{bytes}}</td><td>{{#mac}}<a href="/devices/{{mac}}">{{mac}}</a>{{/mac}}</td></tr>{{/requests}}
            </tbody></table>{{^requests}}<p class="empty">No request logged.</p>{{/requests}}
            """,
        "file": """
            <h1>{{name}} <small>for <a href="/devices/{{mac}}">{{mac}}</a></small></h1>
            <p>MD5 <code>{{md5}}</code>{{#redacted}} · secret lines are left out here, as anyone but the phone receives them{{/redacted}}</p>
            <pre class="file">{{text}}</pre>
            """,
        "pending": """
            <h1>Pending</h1>
            <p>Phones that asked for their files and are not in the inventory wait here until they are approved (they are then served) or rejected (disabled: they are refused from then on).</p>
            {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
            <table><thead><tr><th>MAC</th><th>Model</th><th>Label</th>{{#canWrite}}<th></th>{{/canWrite}}</tr></thead><tbody>
            {{#devices}}<tr><td><a href="/devices/{{mac}}">{{mac}}</a></td><td>{{model}}</td><td>{{label}}</td>
            {{#canWrite}}<td class="actions"><form method="post" action="/devices/{{mac}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/pending"><button>Approve</button></form>
            <form method="post" action="/devices/{{mac}}/reject"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/pending"><button class="danger">Reject</button></form></td>{{/canWrite}}</tr>{{/devices}}
            </tbody></table>{{^devices}}<p class="empty">No phone is waiting.</p>{{/devices}}
            {{#more}}<p>Showing the first {{shown}}; <a href="/devices?state=pending">all pending devices</a>.</p>{{/more}}
            """,
        "log": """
            <h1>Log</h1>
            <form class="filters" method="get" action="/log">
            <label>MAC <input name="mac" value="{{mac}}" size="14"></label>
            <label>Protocol <select name="protocol"><option value="">any</option>{{#protocols}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/protocols}}</select></label>
            <label>Since <input name="since" value="{{since}}" placeholder="2026-12-07T10:00:00Z"></label>
            <label>Rows <input name="limit" value="{{limit}}" size="4"></label>
            <button>Filter</button></form>
            {{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
            {{> requests}}
            """,
        "job": """
            <h1>Check-sync</h1>
            <p>{{#running}}Running: this page refreshes until every phone has answered or timed out.{{/running}}{{^running}}Done.{{/running}}</p>
            <dl><dt>Devices</dt><dd>{{devices}}</dd><dt>Address unknown (not notified)</dt><dd>{{unknownAddress}}</dd>
            <dt>Answered</dt><dd id="answered">{{answered}}</dd><dt>Refused</dt><dd>{{refused}}</dd><dt>Silent</dt><dd>{{silent}}</dd></dl>
            {{#back}}<p><a href="{{back}}">Back to the device</a></p>{{/back}}
            """,
        "templates": """
            <h1>Templates</h1>
            <p>Layers apply in order: <code>defaults.cfg</code>, then <code>models/MODEL.cfg</code>, <code>groups/GROUP.cfg</code> and <code>devices/MAC.cfg</code>.</p>
            <table><thead><tr><th>Template</th><th class="number">Version</th><th>Saved (UTC)</th></tr></thead><tbody>
            {{#templates}}<tr><td><a href="/templates/edit?path={{path}}">{{path}}</a></td><td class="number">{{version}}</td><td>{{saved}}</td></tr>{{/templates}}
            </tbody></table>{{^templates}}<p class="empty">No template yet.</p>{{/templates}}
            {{#canWrite}}<form class="filters" method="get" action="/templates/edit"><label>New template <input name="path" required placeholder="models/T46S.cfg"></label><button>Open</button></form>{{/canWrite}}
            """,
        "template": """
            <h1>{{path}} {{#version}}<small>version {{version}}</small>{{/version}}</h1>
            {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
            {{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
            {{#hasDiagnostics}}<section class="diagnostics"><h2>Lint</h2><ol>{{#diagnostics}}<li class="{{severity}}"><a href="#line-{{line}}">line {{line}}, column {{column}}</a>: {{message}} <small>({{code}}{{#device}}, {{device}}{{/device}})</small></li>{{/diagnostics}}</ol></section>{{/hasDiagnostics}}
            {{#canWrite}}<form method="post" action="/templates/edit"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="path" value="{{path}}">
            <div class="editor"><pre class="gutter" aria-hidden="true">{{gutter}}</pre><textarea name="text" rows="{{rows}}" spellcheck="false" wrap="off">{{text}}</textarea></div>
            <p><button name="action" value="check">Check</button> <button name="action" value="save">Save</button></p></form>{{/canWrite}}
            <section><h2>With line numbers</h2><table class="listing"><tbody>
            {{#lines}}<tr id="line-{{number}}" class="{{#flagged}}flagged{{/flagged}}"><td class="number">{{number}}</td><td><code>{{text}}</code>{{#diagnostics}}<div class="diagnostic {{severity}}">{{code}}: {{message}}</div>{{/diagnostics}}</td></tr>{{/lines}}
            </tbody></table></section>
            <section><h2>History</h2>
            {{#history}}<details><summary>Version {{version}} · {{saved}}{{#removed}} · removed{{/removed}}</summary>
            <pre class="diff">{{#diff}}<span class="{{kind}}">{{sign}} {{text}}</span>
            {{/diff}}</pre></details>{{/history}}{{^history}}<p class="empty">Not saved yet.</p>{{/history}}</section>
            """,
    ]

    static let css = """
        :root { --ink: #1d2430; --muted: #5b6472; --line: #d8dde5; --accent: #1f5fbf; --bad: #b3261e; --good: #1e7a3c; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--ink); background: #f6f7f9; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .6rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
        header nav { display: flex; flex-wrap: wrap; gap: .25rem .9rem; flex: 1; }
        header a { color: var(--ink); text-decoration: none; }
        header nav a[aria-current] { color: var(--accent); font-weight: 600; }
        .brand { font-weight: 700; }
        .logout { display: flex; gap: .5rem; align-items: center; color: var(--muted); }
        main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
        h1 small, h1 .state { font-size: .6em; color: var(--muted); font-weight: 400; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem 1rem; margin: 1rem 0; overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .number { text-align: right; font-variant-numeric: tabular-nums; }
        .bad, .error { color: var(--bad); }
        .notice { color: var(--good); }
        .empty { color: var(--muted); }
        .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem; color: var(--ink); text-decoration: none; }
        .card b { display: block; font-size: 1.5rem; }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 0 1rem; }
        .filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: .5rem 0 1rem; }
        .filters label, .stacked label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
        .stacked { display: grid; gap: .6rem; max-width: 32rem; margin: .75rem 0; }
        input, select, textarea, button { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 4px; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
        .actions { display: flex; flex-wrap: wrap; gap: .5rem; }
        .state { padding: 0 .4rem; border-radius: 3px; background: #e8ebf0; }
        .state.active { background: #dcf2e3; } .state.pending { background: #fdf0c8; } .state.disabled { background: #f6dcdc; }
        .login { max-width: 22rem; margin: 4rem auto; }
        .login form { display: grid; gap: .75rem; }
        .login label { display: flex; flex-direction: column; }
        .editor { display: flex; border: 1px solid var(--line); border-radius: 4px; background: #fff; max-height: 70vh; overflow: auto; }
        .editor .gutter { margin: 0; padding: .3rem .4rem; text-align: right; color: var(--muted); background: #f0f2f5; user-select: none; font: 13px/1.5 ui-monospace, monospace; }
        .editor textarea { flex: 1; border: 0; resize: vertical; font: 13px/1.5 ui-monospace, monospace; overflow: hidden; min-height: 12rem; }
        .listing td { border: 0; padding: 0 .5rem; font: 13px/1.5 ui-monospace, monospace; }
        .listing tr.flagged { background: #fdecea; }
        .diagnostic { color: var(--bad); font-family: system-ui, sans-serif; }
        .diagnostic.warning, li.warning { color: #8a5a00; }
        pre.file, pre.diff { background: #fff; border: 1px solid var(--line); padding: .5rem; overflow-x: auto; }
        .diff .added { color: var(--good); } .diff .removed { color: var(--bad); } .diff .same { color: var(--muted); }
        tr.added td { color: var(--good); } tr.removed td { color: var(--bad); }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        dd { margin: 0; }
        @media (max-width: 40rem) {
          main { padding: .5rem; }
          .devices td:nth-child(2), .devices th:nth-child(2), .devices td:nth-child(5), .devices th:nth-child(5),
          .log td:nth-child(3), .log th:nth-child(3), .log td:nth-child(6), .log th:nth-child(6) { display: none; }
          .devices td, .devices th { word-break: break-word; }
        }
        """

    /// The one script: keeps the template editor's line numbers beside its lines as the text grows.
    static let script = """
        document.querySelectorAll('.editor').forEach(function (editor) {
          var area = editor.querySelector('textarea'), gutter = editor.querySelector('.gutter');
          function update() {
            var lines = area.value.split('\\n').length, numbers = [];
            for (var i = 1; i <= lines; i++) numbers.push(i);
            gutter.textContent = numbers.join('\\n');
            area.rows = Math.max(lines, 8);
          }
          area.addEventListener('input', update);
          update();
        });
        """
}
