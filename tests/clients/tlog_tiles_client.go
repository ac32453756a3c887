// A third-party client of a C2SP tlog-tiles log, built on Go's golang.org/x/mod/sumdb
// (note for the signed checkpoint, tlog for tiles and proofs), as a monitor would use it.
//
//	go run tlog_tiles_client.go PREFIX VERIFIER_KEY [OLD_SIZE OLD_ROOT_BASE64]
//
// It reads the checkpoint (signature checked with note.Open), loads the hash tiles
// through tlog.TileHashReader (which authenticates every tile against the signed tree),
// recomputes the root, proves every entry of every entry bundle included (ProveRecord,
// CheckRecord), checks each envelope hashes to its entry, and, given an older
// checkpoint, proves the two consistent (ProveTree, CheckTree). Prints "OK …" or fails.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// x/mod names tiles "tile/H/L/N" and entries "tile/H/data/N"; C2SP drops the height
// (always 8) and calls the data "entries".
func c2sp(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

func get(prefix, path string) []byte {
	resp, err := http.Get(strings.TrimSuffix(prefix, "/") + "/" + path)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail("GET %s: %s", path, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	return data
}

type tiles struct{ prefix string }

func (r tiles) Height() int { return 8 }

func (r tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		out[i] = get(r.prefix, c2sp(t))
	}
	return out, nil
}

func (r tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func bundle(data []byte, prefix int) [][]byte {
	var out [][]byte
	for at := 0; at < len(data); {
		n := 0
		for k := 0; k < prefix; k++ {
			n = n<<8 | int(data[at+k])
		}
		out = append(out, data[at+prefix:at+prefix+n])
		at += prefix + n
	}
	return out
}

func hash(b64 string) tlog.Hash {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != tlog.HashSize {
		fail("not a hash: %q", b64)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	prefix, vkey := os.Args[1], os.Args[2]
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(get(prefix, "checkpoint"), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if lines[0] != verifier.Name() {
		fail("origin %q", lines[0])
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	tree := tlog.Tree{N: size, Hash: hash(lines[2])}
	reader := tlog.TileHashReader(tree, tiles{prefix})
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil || root != tree.Hash {
		fail("tree hash: %v", err)
	}
	proved := 0
	for start := int64(0); start < size; start += 256 {
		width := size - start
		if width > 256 {
			width = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: start / 256, W: int(width)}
		entries := bundle(get(prefix, c2sp(t)), 2)
		envelopes := bundle(get(prefix, strings.Replace(c2sp(t), "entries", "envelopes", 1)), 4)
		if int64(len(entries)) != width || int64(len(envelopes)) != width {
			fail("bundle %s holds %d entries, %d envelopes", c2sp(t), len(entries), len(envelopes))
		}
		for i, entry := range entries {
			index := start + int64(i)
			proof, err := tlog.ProveRecord(size, index, reader)
			if err != nil {
				fail("prove %d: %v", index, err)
			}
			if err := tlog.CheckRecord(proof, size, tree.Hash, index, tlog.RecordHash(entry)); err != nil {
				fail("entry %d: %v", index, err)
			}
			if len(entry) != 32 || sha256.Sum256(envelopes[i]) != *(*[32]byte)(entry) {
				fail("envelope %d does not hash to its entry", index)
			}
			proved++
		}
	}
	consistent := "not asked"
	if len(os.Args) == 5 {
		old, err := strconv.ParseInt(os.Args[3], 10, 64)
		if err != nil {
			fail("old size: %v", err)
		}
		proof, err := tlog.ProveTree(size, old, reader)
		if err != nil {
			fail("prove tree %d→%d: %v", old, size, err)
		}
		if err := tlog.CheckTree(proof, size, tree.Hash, old, hash(os.Args[4])); err != nil {
			fail("consistency %d→%d: %v", old, size, err)
		}
		consistent = fmt.Sprintf("%d→%d", old, size)
	}
	fmt.Printf("OK size %d, %d entries proved included, consistency %s\n", size, proved, consistent)
}
