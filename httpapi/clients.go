package httpapi

import (
	_ "embed"
	"encoding/json"
)

// Client is an XMPP app recommended on the landing page.
type Client struct {
	ID          string     `json:"id" toml:"id"`
	Name        string     `json:"name" toml:"name"`
	Platforms   []string   `json:"platforms" toml:"platforms"`
	Downloads   []Download `json:"downloads" toml:"downloads"`
	Description string     `json:"description,omitempty" toml:"description"`
	// Descriptions are Description in other languages, by tag ("de",
	// "pt-BR"); the page shows the visitor's, else Description.
	Descriptions map[string]string `json:"descriptions,omitempty" toml:"descriptions"`
}

// Download is where a client can be installed from.
type Download struct {
	Label string `json:"label" toml:"label"`
	URL   string `json:"url" toml:"url"`
}

//go:embed clients.json
var clientsJSON []byte

// DefaultClients returns the built-in client list.
func DefaultClients() []Client {
	var doc struct {
		Clients []Client `json:"clients"`
	}
	if err := json.Unmarshal(clientsJSON, &doc); err != nil {
		// The file is embedded at build time; a test keeps it valid.
		panic("httpapi: embedded clients.json: " + err.Error())
	}
	return doc.Clients
}
