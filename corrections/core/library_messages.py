"""The messages our libraries write themselves, declared here so that ``pybabel extract`` keeps
them in the catalogue: the HTTP status phrases (a problem's ``title``), Werkzeug's error
descriptions, marshmallow's validation messages and webargs'. They reach the edge as plain
strings and are translated there by their text or, when the library formatted values into
them, by their template (corrections/core/i18n.py, ``lookup``). click's, which an operator
reads at a terminal, are looked up by click itself (``install_click_messages``).

tests/core/test_i18n.py compares these lists with what the installed libraries say, so an
upgrade that changes a message fails a test instead of leaving it in English.
"""

from __future__ import annotations

from corrections.core.i18n import N_

# Status phrases, as Python 3.11 writes them and, where 3.13 renamed them, as it does.
HTTP_STATUS_PHRASES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Payment Required"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Proxy Authentication Required"),
    N_("Request Timeout"),
    N_("Conflict"),
    N_("Gone"),
    N_("Length Required"),
    N_("Precondition Failed"),
    N_("Request Entity Too Large"),
    N_("Content Too Large"),
    N_("Request-URI Too Long"),
    N_("URI Too Long"),
    N_("Unsupported Media Type"),
    N_("Requested Range Not Satisfiable"),
    N_("Range Not Satisfiable"),
    N_("Expectation Failed"),
    N_("I'm a Teapot"),
    N_("Misdirected Request"),
    N_("Unprocessable Entity"),
    N_("Unprocessable Content"),
    N_("Locked"),
    N_("Failed Dependency"),
    N_("Too Early"),
    N_("Upgrade Required"),
    N_("Precondition Required"),
    N_("Too Many Requests"),
    N_("Request Header Fields Too Large"),
    N_("Unavailable For Legal Reasons"),
    N_("Internal Server Error"),
    N_("Not Implemented"),
    N_("Bad Gateway"),
    N_("Service Unavailable"),
    N_("Gateway Timeout"),
    N_("HTTP Version Not Supported"),
    N_("Variant Also Negotiates"),
    N_("Insufficient Storage"),
    N_("Loop Detected"),
    N_("Not Extended"),
    N_("Network Authentication Required"),
)

# werkzeug.exceptions: the ``description`` of each of its HTTP errors.
WERKZEUG_DESCRIPTIONS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_(
        "The server could not verify that you are authorized to access the URL requested. You "
        "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
        "understand how to supply the credentials required."
    ),
    N_(
        "You don't have the permission to access the requested resource. It is either "
        "read-protected or not readable by the server."
    ),
    N_(
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
    N_(
        "The resource identified by the request is only capable of generating response "
        "entities which have content characteristics not acceptable according to the accept "
        "headers sent in the request."
    ),
    N_(
        "The server closed the network connection because the browser didn't finish the "
        "request within the specified time."
    ),
    N_(
        "A conflict happened while processing the request. The resource might have been "
        "modified while the request was being processed."
    ),
    N_(
        "The requested URL is no longer available on this server and there is no forwarding "
        "address. If you followed a link from a foreign page, please contact the author of "
        "this page."
    ),
    N_("A request with this method requires a valid <code>Content-Length</code> header."),
    N_("The precondition on the request for the URL failed positive evaluation."),
    N_("The data value transmitted exceeds the capacity limit."),
    N_(
        "The length of the requested URL exceeds the capacity limit for this server. The "
        "request cannot be processed."
    ),
    N_("The server does not support the media type transmitted in the request."),
    N_("The server cannot provide the requested range."),
    N_("The server could not meet the requirements of the Expect header"),
    N_("This server is a teapot, not a coffee machine"),
    N_("The server is not able to produce a response."),
    N_("The request was well-formed but was unable to be followed due to semantic errors."),
    N_("The resource that is being accessed is locked."),
    N_(
        "The method could not be performed on the resource because the requested action "
        "depended on another action and that action failed."
    ),
    N_(
        'This request is required to be conditional; try using "If-Match" or "If-Unmodified-Since".'
    ),
    N_("This user has exceeded an allotted request count. Try again later."),
    N_("One or more header fields exceeds the maximum size."),
    N_("Unavailable for legal reasons."),
    N_(
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."
    ),
    N_("The server does not support the action requested by the browser."),
    N_("The proxy server received an invalid response from an upstream server."),
    N_(
        "The server is temporarily unable to service your request due to maintenance downtime "
        "or capacity problems. Please try again later."
    ),
    N_("The connection to an upstream server timed out."),
    N_("The server does not support the HTTP protocol version used in the request."),
)

# marshmallow: fields' default_error_messages, the schema's and the validators' messages, the
# last with the values they format in left as fields ({min}, {choices}...).
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Unknown field."),
    N_("Invalid input."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid time."),
    N_("Not a valid {obj_type}."),
    N_("Not a valid aware datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid {awareness} {obj_type}."),
    N_('"{input}" cannot be formatted as a date.'),
    N_('"{input}" cannot be formatted as a {obj_type}.'),
    N_("{input} cannot be formatted as a timedelta."),
    N_("Not a valid email address."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid period of time."),
    N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 interface."),
    N_("Must be one of: {choices}."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("Must be equal to {other}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Longer than maximum length {max}."),
    N_("Shorter than minimum length {min}."),
    N_("String does not match expected pattern."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be greater than {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be less than {max}."),
)

# webargs: a body its parser could not read as JSON.
WEBARGS_MESSAGES = (N_("Invalid JSON body."),)


# click: its own messages at a terminal (usage errors, help headings, prompts), singular and
# plural forms both. Looked up by their template, only by click (core/i18n.py,
# install_click_messages).
CLICK_MESSAGES = (
    N_("d"),
    N_("{editor}: Editing failed"),
    N_("{editor}: Editing failed: {e}"),
    N_("Windows error: {error}"),
    N_("Aborted!"),
    N_("deprecated"),
    N_("Options"),
    N_("Positional arguments"),
    N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"),
    N_("DeprecationWarning: The command {name!r} is deprecated.{extra_message}"),
    N_("Commands"),
    N_("Missing command."),
    N_("Value must be an iterable."),
    N_("Takes {nargs} values but 1 was given."),
    N_("Takes {nargs} values but {len} were given."),
    N_("DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}"),
    N_("Name '{name}' defined twice"),
    N_("Boolean option {decl!r} cannot use the same flag for true/false."),
    N_("Could not determine name for option with declarations {decls!r}"),
    N_(
        "No options defined but a name was passed ({name}). Did you "
        "mean to declare an argument instead? Did you mean to pass '--{name}'?"
    ),
    N_("env var: {var}"),
    N_("default: {default}"),
    N_("(dynamic)"),
    N_("Arguments take exactly one parameter declaration, got {length}: {decls}."),
    N_("Do you want to continue?"),
    N_("Confirm the action without prompting."),
    N_("%(prog)s, version %(version)s"),
    N_("Show the version and exit."),
    N_("Show this message and exit."),
    N_("Did you mean {possibility}?"),
    N_("(Did you mean one of: {possibilities}?)"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("unknown error"),
    N_("Could not open file {filename!r}: {message}"),
    N_("Usage:"),
    N_("Invalid start character for option ({option})"),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Option {name!r} does not take a value."),
    N_("Option {name!r} requires an argument."),
    N_("Option {name!r} requires {nargs} arguments."),
    N_("Shell completion is not supported for Bash versions older than 4.4."),
    N_("Couldn't detect Bash version, shell completion is not supported."),
    N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."),
    N_("Error: invalid input"),
    N_("Unknown color {colour!r}"),
    N_("Press any key to continue..."),
    N_("Choose from:\n\t{choices}"),
    N_("{value!r} is not {choice}."),
    N_("{value!r} is not one of {choices}."),
    N_("Choice({choices})"),
    N_("{value!r} does not match the format {format}."),
    N_("{value!r} does not match the formats {formats}."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{value!r} is not a valid UUID."),
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{name} {filename!r} is not executable."),
    N_("{len_type} values are required, but {len_value} was given."),
    N_("{len_type} values are required, but {len_value} were given."),
    N_("Unknown standard stream '{name}'"),
)
