/// The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`: every operation, parameter, body and
/// error the API has. The API tests validate it and check live responses against it.
import Foundation
import ProvisioningCore

enum OpenAPIDocument {
    /// The document as served: the model lists are the catalog's names.
    static let served: String = {
        let names = ModelCatalog.all.map(\.name).sorted()
        return json.replacingOccurrences(of: #""__MODELS__""#, with: names.map { "\"\($0)\"" }.joined(separator: ", "))
    }()

    /// The documented paths as patterns, with their methods: a request on a path that exists with an undocumented
    /// method is answered 405 with `Allow`, not 404.
    static let routes: [(pattern: [String], methods: [String])] = {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let paths = object["paths"] as? [String: [String: Any]]
        else { return [] }
        return paths.map { path, item in
            (path.split(separator: "/").map(String.init),
             item.keys.filter { $0 != "parameters" }.map { $0.uppercased() }.sorted())
        }
    }()

    /// The methods documented for a path under `/api/v1` (nil: no such path).
    static func methods(for path: String) -> [String]? {
        let parts = path.split(separator: "/").map(String.init)
        let found = routes.filter { route in
            route.pattern.count == parts.count && zip(route.pattern, parts).allSatisfy { pattern, part in
                pattern == part || (pattern.hasPrefix("{") && pattern.hasSuffix("}"))
            }
        }
        // The most literal match names the path (`/templates/defaults.cfg/versions`, not `{kind}/{name}`).
        let literal = { (route: (pattern: [String], methods: [String])) in route.pattern.filter { !$0.hasPrefix("{") }.count }
        guard let best = found.map(literal).max() else { return nil }
        return Array(Set(found.filter { literal($0) == best }.flatMap(\.methods))).sorted()
    }

    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "autoprov admin API",
    "version": "1",
    "description": "The inventory of Yealink phones autoprov provisions: devices and groups, over the same calls as the autoprov CLI. Every operation but this document needs Authorization: Bearer TOKEN (autoprov admin token create); read tokens may only read."
  },
  "servers": [{"url": "/api/v1"}],
  "security": [{"bearer": []}],
  "paths": {
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "security": [],
        "responses": {
          "200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/devices": {
      "get": {
        "operationId": "listDevices",
        "summary": "Devices by MAC, a page at a time.",
        "parameters": [
          {
            "name": "model",
            "in": "query",
            "required": false,
            "schema": {"type": "string", "enum": ["__MODELS__"]},
            "description": "A catalog model (T46S)."
          },
          {
            "name": "group",
            "in": "query",
            "required": false,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
          },
          {
            "name": "state",
            "in": "query",
            "required": false,
            "schema": {"type": "string", "enum": ["active", "pending", "disabled"]}
          },
          {
            "name": "q",
            "in": "query",
            "required": false,
            "schema": {"type": "string"},
            "description": "Text in the MAC, the label or a variable's value (secret values are not searched)."
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
          },
          {
            "name": "cursor",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "pattern": "^([0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5})$"
            },
            "description": "The next field of the page before."
          },
          {"$ref": "#/components/parameters/Secrets"}
        ],
        "responses": {
          "200": {
            "description": "A page of devices.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DevicePage"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}
        }
      }
    },
    "/devices/{mac}": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}],
      "get": {
        "operationId": "getDevice",
        "summary": "One device.",
        "parameters": [{"$ref": "#/components/parameters/Secrets"}],
        "responses": {
          "200": {
            "description": "The device.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      },
      "put": {
        "operationId": "putDevice",
        "summary": "Creates the device or replaces what it is; a secret sent back as ******** keeps its value.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceInput"}}}},
        "responses": {
          "200": {
            "description": "Replaced.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}
          },
          "201": {
            "description": "Created.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "409": {"$ref": "#/components/responses/Conflict"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"}
        }
      },
      "patch": {
        "operationId": "patchDevice",
        "summary": "Changes what the body names; a variable set to null is removed (RFC 7396).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DevicePatch"}}}},
        "responses": {
          "200": {
            "description": "Changed.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"},
          "409": {"$ref": "#/components/responses/Conflict"}
        }
      },
      "delete": {
        "operationId": "deleteDevice",
        "summary": "Removes the device.",
        "responses": {
          "204": {"description": "Removed."},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/approve": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}],
      "post": {
        "operationId": "approveDevice",
        "summary": "A pending device becomes active (autoprov device approve).",
        "responses": {
          "200": {
            "description": "The device.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Device"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "422": {"$ref": "#/components/responses/Unprocessable"}
        }
      }
    },
    "/groups": {
      "get": {
        "operationId": "listGroups",
        "summary": "Every group, with how many devices name it.",
        "responses": {
          "200": {
            "description": "The groups.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GroupList"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      }
    },
    "/groups/{name}": {
      "parameters": [
        {
          "name": "name",
          "in": "path",
          "required": true,
          "description": "The group's name.",
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
        }
      ],
      "get": {
        "operationId": "getGroup",
        "summary": "One group.",
        "responses": {
          "200": {
            "description": "The group.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Group"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      },
      "put": {
        "operationId": "putGroup",
        "summary": "Creates the group or replaces its variables.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GroupInput"}}}},
        "responses": {
          "200": {
            "description": "Replaced.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Group"}}}
          },
          "201": {
            "description": "Created.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Group"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"},
          "409": {"$ref": "#/components/responses/Conflict"}
        }
      },
      "delete": {
        "operationId": "deleteGroup",
        "summary": "Removes a group no device names.",
        "responses": {
          "204": {"description": "Removed."},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "409": {"$ref": "#/components/responses/Conflict"}
        }
      }
    },
    "/templates": {
      "get": {
        "operationId": "listTemplates",
        "summary": "The latest version of every template.",
        "responses": {
          "200": {
            "description": "The templates.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplateList"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      }
    },
    "/templates/defaults.cfg": {
      "get": {
        "operationId": "getDefaultsTemplate",
        "summary": "The latest version.",
        "responses": {
          "200": {
            "description": "The template.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Template"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      },
      "put": {
        "operationId": "putDefaultsTemplate",
        "summary": "Saves a new version, checked as template import checks it: refused (422, diagnostics at their lines) when a file it renders for any device would have a lint error.",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplateInput"}}}
        },
        "responses": {
          "200": {
            "description": "Saved (or unchanged).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedTemplate"}}}
          },
          "201": {
            "description": "Created.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedTemplate"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"},
          "409": {"$ref": "#/components/responses/Conflict"}
        }
      },
      "delete": {
        "operationId": "deleteDefaultsTemplate",
        "summary": "The template stops applying; its versions are kept.",
        "responses": {
          "204": {"description": "Removed."},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/templates/defaults.cfg/versions": {
      "get": {
        "operationId": "getDefaultsTemplateVersions",
        "summary": "Every version, oldest first (a removal is a version).",
        "responses": {
          "200": {
            "description": "The versions.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplateVersions"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/templates/{kind}/{name}": {
      "get": {
        "operationId": "getTemplate",
        "summary": "The latest version.",
        "responses": {
          "200": {
            "description": "The template.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Template"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      },
      "put": {
        "operationId": "putTemplate",
        "summary": "Saves a new version, checked as template import checks it: refused (422, diagnostics at their lines) when a file it renders for any device would have a lint error.",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplateInput"}}}
        },
        "responses": {
          "200": {
            "description": "Saved (or unchanged).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedTemplate"}}}
          },
          "201": {
            "description": "Created.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SavedTemplate"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"},
          "409": {"$ref": "#/components/responses/Conflict"}
        }
      },
      "delete": {
        "operationId": "deleteTemplate",
        "summary": "The template stops applying; its versions are kept.",
        "responses": {
          "204": {"description": "Removed."},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      },
      "parameters": [
        {"$ref": "#/components/parameters/TemplateKind"},
        {
          "name": "name",
          "in": "path",
          "required": true,
          "schema": {"type": "string", "pattern": "^[^/]+\\.cfg$"},
          "description": "The file: <model>.cfg (R7.3 spellings accepted), <group>.cfg or <mac>.cfg."
        }
      ]
    },
    "/templates/{kind}/{name}/versions": {
      "parameters": [
        {"$ref": "#/components/parameters/TemplateKind"},
        {
          "name": "name",
          "in": "path",
          "required": true,
          "schema": {"type": "string", "pattern": "^[^/]+\\.cfg$"},
          "description": "The file: <model>.cfg (R7.3 spellings accepted), <group>.cfg or <mac>.cfg."
        }
      ],
      "get": {
        "operationId": "getTemplateVersions",
        "summary": "Every version, oldest first (a removal is a version).",
        "responses": {
          "200": {
            "description": "The versions.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TemplateVersions"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/files": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}],
      "get": {
        "operationId": "listDeviceFiles",
        "summary": "The files templates generate for the device, in the order it asks for them.",
        "responses": {
          "200": {
            "description": "The files.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FileList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/files/{name}": {
      "parameters": [
        {"$ref": "#/components/parameters/Mac"},
        {
          "name": "name",
          "in": "path",
          "required": true,
          "schema": {"type": "string"},
          "description": "A generated file's name (00156574b150.cfg, y000000000066.cfg, 00156574b150.boot)."
        }
      ],
      "get": {
        "operationId": "getDeviceFile",
        "summary": "The file's bytes as served; ETag is their MD5. Secret lines are left out unless a write token asks.",
        "parameters": [{"$ref": "#/components/parameters/Secrets"}],
        "responses": {
          "200": {
            "description": "The bytes.",
            "headers": {"ETag": {"schema": {"type": "string"}, "description": "The MD5 of the bytes, quoted."}},
            "content": {"text/plain": {"schema": {"type": "string"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/requests": {
      "get": {
        "operationId": "listRequests",
        "summary": "The request log, newest first.",
        "parameters": [
          {"$ref": "#/components/parameters/MacFilter"},
          {
            "name": "protocol",
            "in": "query",
            "required": false,
            "schema": {"type": "string", "enum": ["tftp", "http", "https", "ftp", "sip-pnp", "dhcp"]}
          },
          {
            "name": "since",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "pattern": "^([0-9]{1,12}(\\.[0-9]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))$"
            },
            "description": "RFC 3339 time or seconds since 1970."
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
          }
        ],
        "responses": {
          "200": {
            "description": "Requests.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RequestList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"}
        }
      }
    },
    "/changes": {
      "get": {
        "operationId": "listChanges",
        "summary": "Devices whose generated files changed since they were last told (autoprov changes).",
        "responses": {
          "200": {
            "description": "The changed devices.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChangeList"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "422": {"$ref": "#/components/responses/Unprocessable"}
        }
      }
    },
    "/check-sync": {
      "post": {
        "operationId": "checkSync",
        "summary": "Tells devices to check for new files (SIP NOTIFY check-sync), paced: by MAC, the changed set, or a filter. Runs as a job.",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckSyncInput"}}}
        },
        "responses": {
          "202": {
            "description": "The job, started.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}},
            "headers": {"Location": {"schema": {"type": "string"}, "description": "The job's URL."}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "409": {"$ref": "#/components/responses/Conflict"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "422": {"$ref": "#/components/responses/Unprocessable"}
        }
      }
    },
    "/jobs/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {
        "operationId": "getJob",
        "summary": "A check-sync job: how many devices answered, refused or stayed silent so far.",
        "responses": {
          "200": {
            "description": "The job.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}
          },
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/resolve": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}],
      "get": {
        "operationId": "resolveDevice",
        "summary": "The phone's algorithm over the root and the generated files: the JSON of autoprov resolve --format json (each file's source, each setting's template line and variables).",
        "parameters": [{"$ref": "#/components/parameters/Secrets"}],
        "responses": {
          "200": {
            "description": "What the phone ends up with.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": ["files", "settings"],
                  "properties": {"files": {"type": "array", "items": {"type": "object"}}, "settings": {"type": "object"}}
                }
              }
            }
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "422": {"$ref": "#/components/responses/Unprocessable"}
        }
      }
    },
    "/devices/{mac}/uploads": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}],
      "get": {
        "operationId": "listUploads",
        "summary": "The versions of the phone's uploaded <mac>-local.cfg, oldest first, current last.",
        "responses": {
          "200": {
            "description": "The versions.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UploadList"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/uploads/{version}": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}, {"$ref": "#/components/parameters/UploadVersion"}],
      "get": {
        "operationId": "getUpload",
        "summary": "One version's bytes (ETag: their MD5).",
        "responses": {
          "200": {"description": "The bytes.", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    },
    "/devices/{mac}/uploads/{version}/diff": {
      "parameters": [{"$ref": "#/components/parameters/Mac"}, {"$ref": "#/components/parameters/UploadVersion"}],
      "get": {
        "operationId": "diffUpload",
        "summary": "Per key: what this version added, removed and changed against another (the one before by default).",
        "parameters": [{"name": "against", "in": "query", "required": false, "schema": {"type": "string"}}],
        "responses": {
          "200": {
            "description": "The differences.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UploadDiff"}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthorized"},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A token from autoprov admin token create."}},
    "schemas": {
      "Variables": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Name to value; secret variables show as ********."
      },
      "Device": {
        "type": "object",
        "required": ["mac", "model", "label", "state", "groups", "variables", "username", "password"],
        "additionalProperties": false,
        "properties": {
          "mac": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
          "model": {"type": "string"},
          "label": {"type": "string"},
          "state": {"type": "string", "enum": ["active", "pending", "disabled"]},
          "groups": {"type": "array", "items": {"type": "string"}},
          "variables": {"$ref": "#/components/schemas/Variables"},
          "username": {"type": "string", "description": "The device's own user name for HTTP and FTP (its MAC)."},
          "password": {"type": "string", "description": "The device's own password; ******** unless secrets=true."}
        }
      },
      "DevicePage": {
        "type": "object",
        "required": ["devices"],
        "additionalProperties": false,
        "properties": {
          "devices": {"type": "array", "items": {"$ref": "#/components/schemas/Device"}},
          "next": {"type": "string", "description": "The cursor of the next page; absent on the last."}
        }
      },
      "DeviceInput": {
        "type": "object",
        "required": ["model"],
        "additionalProperties": false,
        "properties": {
          "mac": {
            "type": "string",
            "pattern": "^([0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5})$",
            "description": "When sent, the device of the URL (409 otherwise)."
          },
          "model": {
            "type": "string",
            "enum": ["__MODELS__"],
            "description": "A catalog model (R7.3 spellings such as SIP-T46S are accepted too)."
          },
          "label": {"type": "string"},
          "state": {"type": "string", "enum": ["active", "pending", "disabled"]},
          "groups": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
            "uniqueItems": true
          },
          "variables": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": {"enum": ["mac", "MAC", "model", "label", "server_url"]}}
          },
          "username": {"type": "string"},
          "password": {"type": "string", "minLength": 1, "description": "The device's own password; ******** keeps it."}
        }
      },
      "DevicePatch": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "model": {
            "type": "string",
            "enum": ["__MODELS__"],
            "description": "A catalog model (R7.3 spellings such as SIP-T46S are accepted too)."
          },
          "label": {"type": "string"},
          "state": {"type": "string", "enum": ["active", "pending", "disabled"]},
          "groups": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
            "uniqueItems": true
          },
          "variables": {
            "type": "object",
            "additionalProperties": {"type": ["string", "null"]},
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": {"enum": ["mac", "MAC", "model", "label", "server_url"]}}
          }
        }
      },
      "Group": {
        "type": "object",
        "required": ["name", "variables", "devices"],
        "additionalProperties": false,
        "properties": {
          "name": {"type": "string"},
          "variables": {"$ref": "#/components/schemas/Variables"},
          "devices": {"type": "integer", "minimum": 0}
        }
      },
      "GroupInput": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "name": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
            "description": "When sent, the group of the URL (409 otherwise)."
          },
          "variables": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "not": {"enum": ["mac", "MAC", "model", "label", "server_url"]}}
          },
          "devices": {"type": "integer"}
        }
      },
      "GroupList": {
        "type": "object",
        "required": ["groups"],
        "additionalProperties": false,
        "properties": {"groups": {"type": "array", "items": {"$ref": "#/components/schemas/Group"}}}
      },
      "Diagnostic": {
        "type": "object",
        "required": ["path", "line", "column", "severity", "code", "message"],
        "additionalProperties": false,
        "properties": {
          "path": {"type": "string"},
          "line": {"type": "integer"},
          "column": {"type": "integer"},
          "severity": {"type": "string", "enum": ["error", "warning"]},
          "code": {"type": "string"},
          "message": {"type": "string"},
          "device": {"type": "string"}
        }
      },
      "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {
          "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": false,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
          },
          "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}}
        }
      },
      "Template": {
        "type": "object",
        "required": ["path", "version", "saved", "text", "removed"],
        "additionalProperties": false,
        "properties": {
          "path": {"type": "string"},
          "version": {"type": "integer", "minimum": 1},
          "saved": {"type": "string", "format": "date-time"},
          "text": {"type": "string"},
          "removed": {"type": "boolean"}
        }
      },
      "SavedTemplate": {
        "type": "object",
        "required": ["path", "version", "saved", "text", "removed", "diagnostics"],
        "additionalProperties": false,
        "properties": {
          "path": {"type": "string"},
          "version": {"type": "integer", "minimum": 1},
          "saved": {"type": "string", "format": "date-time"},
          "text": {"type": "string"},
          "removed": {"type": "boolean"},
          "diagnostics": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Diagnostic"},
            "description": "Lint warnings; errors refuse the save."
          }
        }
      },
      "TemplateInput": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": false,
        "properties": {
          "text": {"type": "string"},
          "path": {"type": "string", "description": "When sent, the template of the URL (409 otherwise)."}
        }
      },
      "TemplateList": {
        "type": "object",
        "required": ["templates"],
        "additionalProperties": false,
        "properties": {
          "templates": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["path", "version", "saved", "lines"],
              "additionalProperties": false,
              "properties": {
                "path": {"type": "string"},
                "version": {"type": "integer"},
                "saved": {"type": "string", "format": "date-time"},
                "lines": {"type": "integer"}
              }
            }
          }
        }
      },
      "TemplateVersions": {
        "type": "object",
        "required": ["versions"],
        "additionalProperties": false,
        "properties": {"versions": {"type": "array", "items": {"$ref": "#/components/schemas/Template"}}}
      },
      "FileList": {
        "type": "object",
        "required": ["files"],
        "additionalProperties": false,
        "properties": {
          "files": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["name", "templates", "md5", "bytes", "holdsSecrets"],
              "additionalProperties": false,
              "properties": {
                "name": {"type": "string"},
                "templates": {"type": "array", "items": {"type": "string"}},
                "md5": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                "bytes": {"type": "integer", "minimum": 0},
                "holdsSecrets": {"type": "boolean"}
              }
            }
          }
        }
      },
      "RequestList": {
        "type": "object",
        "required": ["requests"],
        "additionalProperties": false,
        "properties": {
          "requests": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["time", "protocol", "client", "path", "result", "bytes", "seconds"],
              "additionalProperties": false,
              "properties": {
                "time": {"type": "string", "format": "date-time"},
                "protocol": {"type": "string"},
                "client": {"type": "string"},
                "path": {"type": "string"},
                "result": {"type": "string"},
                "bytes": {"type": "integer"},
                "seconds": {"type": "number"},
                "mac": {"type": "string"},
                "model": {"type": "string"},
                "firmware": {"type": "string"}
              }
            }
          }
        }
      },
      "ChangeList": {
        "type": "object",
        "required": ["devices"],
        "additionalProperties": false,
        "properties": {
          "devices": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["mac", "model", "new", "files"],
              "additionalProperties": false,
              "properties": {
                "mac": {"type": "string"},
                "model": {"type": "string"},
                "new": {"type": "boolean"},
                "files": {"type": "array", "items": {"type": "string"}}
              }
            }
          }
        }
      },
      "CheckSyncInput": {
        "type": "object",
        "additionalProperties": false,
        "description": "Exactly one of macs, changed and filter.",
        "oneOf": [{"required": ["macs"]}, {"required": ["changed"]}, {"required": ["filter"]}],
        "properties": {
          "macs": {
            "type": "array",
            "minItems": 1,
            "items": {
              "type": "string",
              "pattern": "^([0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5})$"
            },
            "description": "Devices of the inventory."
          },
          "changed": {
            "type": "boolean",
            "const": true,
            "description": "The devices whose files changed since they were last told; those that answer are recorded as told."
          },
          "filter": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "model": {"type": "string", "enum": ["__MODELS__"]},
              "group": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
              "state": {"type": "string", "enum": ["active", "pending", "disabled"]},
              "q": {"type": "string"}
            }
          },
          "rate": {
            "type": "number",
            "maximum": 1000,
            "description": "Notifications a second ([inventory] notify_rate by default).",
            "minimum": 0.1
          },
          "reboot": {"type": "boolean", "description": "Ask for a reboot too (check-sync;reboot=true)."}
        }
      },
      "Job": {
        "type": "object",
        "required": ["id", "state", "devices", "unknownAddress", "answered", "refused", "silent", "started"],
        "additionalProperties": false,
        "properties": {
          "id": {"type": "string"},
          "state": {"type": "string", "enum": ["running", "done"]},
          "devices": {"type": "integer", "minimum": 0},
          "unknownAddress": {"type": "integer", "minimum": 0, "description": "Devices the registry has no address for: not notified."},
          "answered": {"type": "integer", "minimum": 0},
          "refused": {"type": "integer", "minimum": 0},
          "silent": {"type": "integer", "minimum": 0},
          "started": {"type": "string", "format": "date-time"},
          "finished": {"type": "string", "format": "date-time"}
        }
      },
      "UploadList": {
        "type": "object",
        "required": ["uploads"],
        "additionalProperties": false,
        "properties": {
          "uploads": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["version", "time", "bytes", "md5"],
              "additionalProperties": false,
              "properties": {
                "version": {"type": "string"},
                "time": {"type": "string", "format": "date-time"},
                "bytes": {"type": "integer"},
                "md5": {"type": "string"}
              }
            }
          }
        }
      },
      "UploadDiff": {
        "type": "object",
        "required": ["from", "to", "added", "removed", "changed"],
        "additionalProperties": false,
        "properties": {
          "from": {"type": "string"},
          "to": {"type": "string"},
          "added": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["key"],
              "additionalProperties": false,
              "properties": {"key": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}
            }
          },
          "removed": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["key"],
              "additionalProperties": false,
              "properties": {"key": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}
            }
          },
          "changed": {
            "type": "array",
            "items": {
              "type": "object",
              "required": ["key"],
              "additionalProperties": false,
              "properties": {"key": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}
            }
          }
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "Bad input; the message names the field.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Unauthorized": {
        "description": "No token, or not a known one.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Forbidden": {
        "description": "A read token asked to write or for secrets.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "NotFound": {
        "description": "No such device or group.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Conflict": {
        "description": "The change conflicts with what is stored: a group that does not exist or is still in use, a body naming another device or group than its URL.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "TooLarge": {
        "description": "The body is larger than 1 MiB.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Unprocessable": {
        "description": "Refused: files the templates would render with errors (diagnostics), or stored templates that do not compile.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "MethodNotAllowed": {
        "description": "The path exists; the method does not (Allow names those that do).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      }
    },
    "parameters": {
      "Secrets": {
        "name": "secrets",
        "in": "query",
        "required": false,
        "description": "true: secret values and lines in clear (write tokens only).",
        "schema": {"type": "string", "enum": ["true", "false"]}
      },
      "Mac": {
        "name": "mac",
        "in": "path",
        "required": true,
        "description": "The device's MAC, any common spelling (00156574b150, 00:15:65:74:B1:50).",
        "schema": {
          "type": "string",
          "pattern": "^([0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5})$"
        }
      },
      "TemplateKind": {
        "name": "kind",
        "in": "path",
        "required": true,
        "schema": {"type": "string", "enum": ["models", "groups", "devices"]},
        "description": "models, groups or devices."
      },
      "MacFilter": {
        "name": "mac",
        "in": "query",
        "required": false,
        "schema": {
          "type": "string",
          "pattern": "^([0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5})$"
        }
      },
      "UploadVersion": {
        "name": "version",
        "in": "path",
        "required": true,
        "schema": {"type": "string"},
        "description": "current, or an earlier version's id."
      }
    }
  }
}
"""#
}
