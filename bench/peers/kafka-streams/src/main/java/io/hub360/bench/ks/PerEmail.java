package io.hub360.bench.ks;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The two small values of the topology and their serdes (plain binary, big-endian):
 *
 * <pre>
 * Contribution (repartition topic): currency length (int, -1 = no amount), currency UTF-8, amount (long)
 * Aggregate    (per-email store):   count (long), n (int), n x [currency length (int), UTF-8, sum (long)]
 * </pre>
 */
final class PerEmail {
    private PerEmail() {}

    /** One event's share for one e-mail: count one, plus an amount when the event carries one. */
    record Contribution(String currency, long amount) {
        static final Contribution NONE = new Contribution(null, 0);
    }

    /** Per e-mail: events counted and amount sums per currency (minor units). */
    static final class Aggregate {
        long count;
        final TreeMap<String, Long> sums = new TreeMap<>();

        Aggregate add(Contribution c) {
            count++;
            if (c.currency() != null) {
                sums.merge(c.currency(), c.amount(), Long::sum);
            }
            return this;
        }

        /** "count<TAB>CUR=sum,CUR=sum" (currencies sorted). */
        String render() {
            StringBuilder b = new StringBuilder().append(count).append('\t');
            boolean first = true;
            for (Map.Entry<String, Long> e : sums.entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                b.append(e.getKey()).append('=').append(e.getValue());
            }
            return b.toString();
        }
    }

    static Serde<Contribution> contributionSerde() {
        Serializer<Contribution> ser = (topic, c) -> {
            if (c == null) {
                return null;
            }
            if (c.currency() == null) {
                return new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};
            }
            byte[] cur = c.currency().getBytes(StandardCharsets.UTF_8);
            return ByteBuffer.allocate(4 + cur.length + 8).putInt(cur.length).put(cur).putLong(c.amount()).array();
        };
        Deserializer<Contribution> de = (topic, data) -> {
            if (data == null) {
                return null;
            }
            try {
                ByteBuffer buf = ByteBuffer.wrap(data);
                int n = buf.getInt();
                if (n < 0) {
                    return Contribution.NONE;
                }
                String cur = new String(data, 4, n, StandardCharsets.UTF_8);
                buf.position(4 + n);
                return new Contribution(cur, buf.getLong());
            } catch (RuntimeException e) {
                throw new SerializationException("bad contribution value", e);
            }
        };
        return Serdes.serdeFrom(ser, de);
    }

    static Serde<Aggregate> aggregateSerde() {
        Serializer<Aggregate> ser = (topic, a) -> {
            if (a == null) {
                return null;
            }
            int size = 8 + 4;
            byte[][] curs = new byte[a.sums.size()][];
            int i = 0;
            for (String cur : a.sums.keySet()) {
                curs[i] = cur.getBytes(StandardCharsets.UTF_8);
                size += 4 + curs[i].length + 8;
                i++;
            }
            ByteBuffer buf = ByteBuffer.allocate(size).putLong(a.count).putInt(curs.length);
            i = 0;
            for (Long sum : a.sums.values()) {
                buf.putInt(curs[i].length).put(curs[i]).putLong(sum);
                i++;
            }
            return buf.array();
        };
        Deserializer<Aggregate> de = (topic, data) -> {
            if (data == null) {
                return null;
            }
            try {
                ByteBuffer buf = ByteBuffer.wrap(data);
                Aggregate a = new Aggregate();
                a.count = buf.getLong();
                int n = buf.getInt();
                for (int i = 0; i < n; i++) {
                    int len = buf.getInt();
                    String cur = new String(data, buf.position(), len, StandardCharsets.UTF_8);
                    buf.position(buf.position() + len);
                    a.sums.put(cur, buf.getLong());
                }
                return a;
            } catch (RuntimeException e) {
                throw new SerializationException("bad aggregate value", e);
            }
        };
        return Serdes.serdeFrom(ser, de);
    }
}
