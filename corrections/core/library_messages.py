"""The messages our libraries write themselves, declared here so that ``pybabel extract`` keeps
them in the catalogue: the HTTP status phrases (a problem's ``title``), Werkzeug's error
descriptions, marshmallow's validation messages and webargs'. They reach the edge as plain
strings and are translated there by their text or, when the library formatted values into
them, by their template (corrections/core/i18n.py, ``lookup``).

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
