# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's HTTP API stand-in, run by supervisord behind nginx: GET /api/health answers 200, anything else 404."""
import http.server


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = (200, b'ok\n') if self.path == '/api/health' else (404, b'not found\n')
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == '__main__':
    http.server.ThreadingHTTPServer(('127.0.0.1', 9080), Handler).serve_forever()
