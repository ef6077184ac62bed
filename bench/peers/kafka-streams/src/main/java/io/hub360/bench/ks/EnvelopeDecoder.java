package io.hub360.bench.ks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Decodes hub360 topic values: Confluent framing (byte 0x00, 4-byte big-endian schema id) followed by
 * the Avro binary encoding of hub360.Envelope, written with the schema schemas/released/ID.avsc. No
 * schema registry: schema ids map to files of the released folder.
 *
 * <p>One instance serves every stream thread; the Avro reader and decoder it reuses are per thread.
 */
final class EnvelopeDecoder {

    /** What the per-email projection takes from one event. */
    record Extract(List<String> emails, String currency, Long amount) {}

    private final Path releasedDir;
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();

    private static final class PerThread {
        final Map<Integer, GenericDatumReader<GenericRecord>> readers = new HashMap<>();
        final Map<Integer, GenericRecord> reuse = new HashMap<>();
        BinaryDecoder decoder;
    }

    private final ThreadLocal<PerThread> perThread = ThreadLocal.withInitial(PerThread::new);

    EnvelopeDecoder(Path releasedDir) {
        this.releasedDir = releasedDir;
    }

    /** Loads (once) the writer schema of an id from released/ID.avsc. */
    Schema schema(int id) throws IOException {
        Schema s = schemas.get(id);
        if (s != null) {
            return s;
        }
        Path file = releasedDir.resolve(id + ".avsc");
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IOException("schema id " + id + ": no file " + file);
        }
        s = new Schema.Parser().parse(text);
        Schema prev = schemas.putIfAbsent(id, s);
        return prev != null ? prev : s;
    }

    /** Decodes one framed value to a generic hub360.Envelope. */
    GenericRecord decode(byte[] value) throws IOException {
        if (value == null || value.length < 5 || value[0] != 0) {
            throw new IOException("not a Confluent-framed value (" + (value == null ? "null" : value.length + " bytes") + ")");
        }
        int id = ((value[1] & 0xff) << 24) | ((value[2] & 0xff) << 16) | ((value[3] & 0xff) << 8) | (value[4] & 0xff);
        PerThread t = perThread.get();
        GenericDatumReader<GenericRecord> reader = t.readers.get(id);
        if (reader == null) {
            Schema s = schema(id);
            if (!"hub360.Envelope".equals(s.getFullName())) {
                throw new IOException("schema id " + id + " is " + s.getFullName() + ", not hub360.Envelope");
            }
            reader = new GenericDatumReader<>(s);
            t.readers.put(id, reader);
        }
        t.decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, t.decoder);
        GenericRecord rec = reader.read(t.reuse.get(id), t.decoder);
        t.reuse.put(id, rec);
        return rec;
    }

    /**
     * The e-mail identities (distinct, as published: hub360 normalizes them) and the money amount of an
     * event: payload total (erp.order.placed, erp.invoice.issued) or amount (erp.payment.received,
     * crm.opportunity.upserted, crm.contract.signed) with the payload currency, when both are present.
     */
    static Extract extract(GenericRecord env) {
        List<String> emails = List.of();
        Object ids = env.get("identities");
        if (ids instanceof List<?> list && !list.isEmpty()) {
            for (Object o : list) {
                GenericRecord identity = (GenericRecord) o;
                if ("EMAIL".equals(identity.get("kind").toString())) {
                    String email = identity.get("value").toString();
                    if (emails.isEmpty()) {
                        emails = new ArrayList<>(1);
                    }
                    if (!emails.contains(email)) {
                        emails.add(email);
                    }
                }
            }
        }
        String field;
        switch (env.get("type").toString()) {
            case "erp.order.placed", "erp.invoice.issued" -> field = "total";
            case "erp.payment.received", "crm.opportunity.upserted", "crm.contract.signed" -> field = "amount";
            default -> field = null;
        }
        String currency = null;
        Long amount = null;
        if (field != null && env.get("payload") instanceof GenericRecord payload) {
            Object a = payload.hasField(field) ? payload.get(field) : null;
            Object c = payload.hasField("currency") ? payload.get("currency") : null;
            if (a != null && c != null) {
                amount = (Long) a;
                currency = c.toString();
            }
        }
        return new Extract(emails, currency, amount);
    }
}
